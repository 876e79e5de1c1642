// Screenshots for review, at a laptop's width (1280 px) and a phone's (390 px): the overview,
// an attempts list and one attempt opened from it, the alerts and the inbox once a rule has
// fired, saved in screenshots/; and a Slack message drawn from the payload the Rust tests write.
import * as fs from "fs";
import * as path from "path";
import { expect, test } from "./fixtures/test";
import { E2E } from "./fixtures/environment";
import { AlertsPage, InboxPage, createRule, deleteAlertsAndViews, uniqueName } from "./fixtures/alerts_pages";
import { type SlackPayload, slackCardHtml } from "./fixtures/slack_card";
import { attemptsInDefaultRange, figuresBy } from "./fixtures/emulator";
import { AttemptPage } from "./fixtures/attempt_page";
import { AttemptsPage } from "./fixtures/attempts_page";
import { OverviewPage } from "./fixtures/overview_page";

const widths = [
  [1280, 900],
  [390, 844],
];

for (const [width, height] of widths) {
  test(`screenshots of the overview, the attempts list and an attempt at ${width} px`, async ({ page }) => {
    await page.setViewportSize({ width, height });
    const overview = new OverviewPage(page);
    await overview.goto();
    await expect(overview.timeseriesCanvas().first()).toBeVisible();
    await expect(overview.chartCanvas().first()).toBeVisible();
    await page.screenshot({ path: `screenshots/overview-${width}.png`, fullPage: true });

    // A market's evidence: its channels, the move "What to do" recommends with its arithmetic, its retries.
    await overview.goto("country=CO&by=channel");
    await expect(page.getByTestId("arithmetic").first()).toBeVisible();
    await page.getByTestId("what-to-do").screenshot({ path: `screenshots/what-to-do-${width}.png` });
    await page.getByTestId("funnel").screenshot({ path: `screenshots/retries-${width}.png` });

    const attemptsList = new AttemptsPage(page);
    await attemptsList.goto("country=CO&channel=sms");
    const row = attemptsList.rows.first();
    await expect(row).toBeVisible();
    await page.screenshot({ path: `screenshots/attempts-${width}.png`, fullPage: true });

    // An attempt with an error code whose verification had several attempts, opened from the list.
    const attempt = new AttemptPage(page);
    const sms = await attemptsInDefaultRange({ Country: "CO", Channel: "sms" });
    const tries = figuresBy(sms, (a) => a.verification_sid);
    const shown = sms.find((a) => a.channel_data?.error_code && tries.get(a.verification_sid)!.attempts >= 3) ?? sms[0];
    await attempt.goto(shown.sid, "country=CO&channel=sms");
    await expect(attempt.sid).toHaveText(shown.sid);
    await expect(attempt.verificationTable).toBeVisible();
    await page.screenshot({ path: `screenshots/attempt-${width}.png`, fullPage: true });
  });
}

// One rule, firing, for both widths: Colombia converts well below 95%, so it fires as it is
// created. It is deleted afterwards, so that it does not keep firing into the inbox of the
// specs after this one.
test.describe("the alerts and the inbox", () => {
  const marker = uniqueName("screenshots");
  const name = `Conversion in Colombia ${marker}`;

  test.beforeAll(async ({ browser }) => {
    const context = await browser.newContext({ baseURL: E2E.dashboardUrl });
    const page = await context.newPage();
    await createRule(page, "country=CO", { name, kind: "conversion_below", threshold: "95", minVerifications: "10" });
    await expect(new AlertsPage(page).rule(name)).toHaveAttribute("data-state", "firing");
    await new InboxPage(page).expectMessages(`Firing: ${name}`, "firing", 1);
    await context.close();
  });

  test.afterAll(async ({ browser }) => {
    const context = await browser.newContext({ baseURL: E2E.dashboardUrl });
    await deleteAlertsAndViews(await context.newPage(), marker);
    await context.close();
  });

  for (const [width, height] of widths) {
    test(`screenshots of the alerts and the inbox after a rule fired at ${width} px`, async ({ page }) => {
      await page.setViewportSize({ width, height });
      const alerts = new AlertsPage(page);
      const inbox = new InboxPage(page);
      await inbox.goto();
      await expect(inbox.message(`Firing: ${name}`, "firing")).toBeVisible();
      await page.screenshot({ path: `screenshots/inbox-${width}.png`, fullPage: true });
      await alerts.goto();
      await expect(alerts.rule(name)).toHaveAttribute("data-state", "firing");
      await expect(alerts.deliveries(`Firing: ${name}`)).toHaveAttribute("data-outcome", "delivered");
      await page.screenshot({ path: `screenshots/alerts-${width}.png`, fullPage: true });
    });
  }
});

// The Block Kit payload a firing rule sends to Slack, as the Rust test suite writes it
// (`cargo test` writes target/alerts/slack-firing.json), drawn as a Slack-like card.
const slackPayloadPath = path.join(__dirname, "../../target/alerts/slack-firing.json");

test("a screenshot of a Slack message drawn from its Block Kit payload", async ({ page }) => {
  test.skip(
    !fs.existsSync(slackPayloadPath),
    `no Slack payload at ${path.relative(process.cwd(), slackPayloadPath)}: run the Rust tests (cargo test) to write it`,
  );
  const payload: SlackPayload = JSON.parse(fs.readFileSync(slackPayloadPath, "utf8"));
  const blocks = payload.blocks ?? [];
  const header = blocks.find((b) => b.type === "header");
  const fields = blocks.find((b) => b.type === "section" && b.fields)?.fields ?? [];
  const button = blocks.find((b) => b.type === "actions")?.elements?.find((e) => e.type === "button");
  expect(header, "the payload's header block").toBeDefined();
  await page.setViewportSize({ width: 720, height: 600 });
  await page.setContent(slackCardHtml(payload, "verilens", "7:11 AM"));
  const card = page.getByTestId("slack-message");
  await expect(card.locator("[data-block=header]")).toHaveText(header!.text!.text);
  await expect(card.locator("[data-block=fields] .field")).toHaveCount(fields.length);
  // Each field's *bold* name is bold, its value under it.
  for (const [i, field] of fields.entries()) {
    const [name] = field.text.split("\n");
    await expect(card.locator("[data-block=fields] .field").nth(i).locator("strong")).toHaveText(name.replace(/^\*|\*$/g, ""));
  }
  if (button) {
    const link = card.locator("[data-block=actions] a.button");
    await expect(link).toHaveText((button.text as { text: string }).text);
    await expect(link).toHaveAttribute("href", button.url!);
  }
  await expect(card.locator("[data-block=context]")).toBeVisible();
  await card.screenshot({ path: "screenshots/slack-message.png" });
});
