// Automated accessibility checks: axe-core's WCAG 2.0 and 2.1 A and AA rules find nothing on
// each page, at a desktop's width and at a phone's, once the page is hydrated and its charts drawn
// (the saved views and alerts pages are plain HTML: once they have loaded).
import AxeBuilder from "@axe-core/playwright";
import type { Page } from "@playwright/test";
import { expect, test } from "./fixtures/test";
import { AlertsPage, InboxPage, RuleFormPage, SavedViewsPage, SaveViewPage, deleteAlertsAndViews, saveView, uniqueName } from "./fixtures/alerts_pages";
import { AttemptPage } from "./fixtures/attempt_page";
import { AttemptsPage } from "./fixtures/attempts_page";
import { E2E } from "./fixtures/environment";
import { NotFoundPage } from "./fixtures/not_found_page";
import { OverviewPage } from "./fixtures/overview_page";

const widths = [1280, 390];
const wcagTags = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

type Violation = Awaited<ReturnType<AxeBuilder["analyze"]>>["violations"][number];

/** Each violation as a paragraph: its rule, impact and help, then the first few elements it found. */
function explain(violations: Violation[]): string {
  return violations
    .map((v) => {
      const nodes = v.nodes.slice(0, 3).map((n) => `    ${n.target.join(" ")}\n      ${n.html}\n      ${n.failureSummary?.replace(/\n/g, " ") ?? ""}`);
      const more = v.nodes.length > 3 ? [`    … and ${v.nodes.length - 3} more`] : [];
      return [`  ${v.id} (${v.impact}): ${v.help} ${v.helpUrl}`, ...nodes, ...more].join("\n");
    })
    .join("\n");
}

/** At each width, opens the page with `open` (which waits until it is ready) and expects no violation. */
async function expectNoViolations(page: Page, name: string, open: () => Promise<void>) {
  for (const width of widths) {
    await page.setViewportSize({ width, height: 844 });
    await open();
    const { violations } = await new AxeBuilder({ page }).withTags(wcagTags).analyze();
    // Soft, so that one run reports both widths.
    expect.soft(violations.map((v) => v.id), `axe violations on ${name} at ${width} px:\n${explain(violations)}`).toEqual([]);
  }
}

test("the overview has no accessibility violations", async ({ page }) => {
  const overview = new OverviewPage(page);
  await expectNoViolations(page, "/", async () => {
    await overview.goto();
    await expect(overview.timeseriesCanvas().first()).toBeVisible();
    await expect(overview.chartCanvas().first()).toBeVisible();
  });
});

test("the overview with a breakdown and filters has no accessibility violations", async ({ page }) => {
  const overview = new OverviewPage(page);
  await expectNoViolations(page, "/?by=carrier&country=CO", async () => {
    await overview.goto("by=carrier&country=CO");
    await expect(overview.chips).toContainText("CO");
    await expect(overview.timeseriesCanvas().first()).toBeVisible();
    await expect(overview.chartCanvas().first()).toBeVisible();
  });
});

test("the attempts list has no accessibility violations", async ({ page }) => {
  const attemptsList = new AttemptsPage(page);
  await expectNoViolations(page, "/attempts", async () => {
    await page.goto("/attempts", { waitUntil: "networkidle" });
    await expect(attemptsList.rows.first()).toBeVisible();
  });
});

test("an attempt's page has no accessibility violations", async ({ page }) => {
  const attemptsList = new AttemptsPage(page);
  const attempt = new AttemptPage(page);
  await expectNoViolations(page, "an attempt's page", async () => {
    await page.goto("/attempts", { waitUntil: "networkidle" });
    const first = attemptsList.rows.first();
    const sid = await attemptsList.sid(first);
    await attemptsList.attemptLink(first).click();
    await expect(page).toHaveURL(new RegExp(`/attempts/${sid}`));
    await expect(attempt.sid).toHaveText(sid!);
    await expect(attempt.verificationTable).toBeVisible();
  });
});

test("the not-found page has no accessibility violations", async ({ page }) => {
  const notFound = new NotFoundPage(page);
  await expectNoViolations(page, "/no/such/page", async () => {
    const response = await notFound.goto("/no/such/page");
    expect(response?.status()).toBe(404);
    await expect(notFound.heading).toBeVisible();
    await page.waitForLoadState("networkidle");
  });
});

// The server's plain-HTML pages of saved views and alerts, with something on them: a saved
// view, a firing rule on it, and its message in the inbox (all deleted afterwards, so that
// the rule does not keep firing into the inbox of the specs after this one).
test.describe("the saved views and alerts pages", () => {
  const marker = uniqueName("accessibility");
  const viewName = `Colombia ${marker}`;
  const ruleName = `Conversion in Colombia ${marker}`;

  test.beforeAll(async ({ browser }) => {
    const context = await browser.newContext({ baseURL: E2E.dashboardUrl });
    const page = await context.newPage();
    await saveView(page, "country=CO", viewName);
    await new SavedViewsPage(page).alertOn(viewName).click();
    const form = new RuleFormPage(page);
    await form.fill({ name: ruleName, kind: "conversion_below", threshold: "95", minVerifications: "10" });
    await form.create.click();
    await expect(new AlertsPage(page).rule(ruleName)).toHaveAttribute("data-state", "firing");
    await new InboxPage(page).expectMessages(`Firing: ${ruleName}`, "firing", 1);
    await context.close();
  });

  test.afterAll(async ({ browser }) => {
    const context = await browser.newContext({ baseURL: E2E.dashboardUrl });
    await deleteAlertsAndViews(await context.newPage(), marker);
    await context.close();
  });

  test("the saved views have no accessibility violations", async ({ page }) => {
    const views = new SavedViewsPage(page);
    await expectNoViolations(page, "/views", async () => {
      await views.goto();
      await expect(views.row(viewName)).toBeVisible();
    });
  });

  test("the form that saves a view has no accessibility violations", async ({ page }) => {
    const form = new SaveViewPage(page);
    await expectNoViolations(page, "/views/save?country=CO", async () => {
      await form.goto("country=CO");
      await expect(form.name).toBeVisible();
    });
  });

  test("the rule form has no accessibility violations", async ({ page }) => {
    const form = new RuleFormPage(page);
    await expectNoViolations(page, "/alerts/new?country=CO", async () => {
      await form.goto("country=CO");
      await expect(form.form).toBeVisible();
    });
  });

  test("the alerts have no accessibility violations", async ({ page }) => {
    const alerts = new AlertsPage(page);
    await expectNoViolations(page, "/alerts", async () => {
      await alerts.goto();
      await expect(alerts.rule(ruleName)).toHaveAttribute("data-state", "firing");
      await expect(alerts.deliveryLog).toBeVisible();
    });
  });

  test("the inbox has no accessibility violations", async ({ page }) => {
    const inbox = new InboxPage(page);
    await expectNoViolations(page, "/alerts/inbox", async () => {
      await inbox.goto();
      await expect(inbox.message(`Firing: ${ruleName}`, "firing")).toBeVisible();
    });
  });
});
