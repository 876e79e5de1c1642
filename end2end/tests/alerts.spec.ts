// Alerts, in a browser against the main dashboard: a view of the overview saved and listed
// with its filters; an alert on it that fires at once (Colombia converts well below 95%),
// sends one message to the inbox that leads back to the view, and is logged as delivered;
// snooze, pause and resume; refused input and names with markup; the rule form from the
// keyboard alone; and the whole path without JavaScript. Every test names what it creates
// with its own marker and deletes it afterwards, so that no rule of it keeps firing.
import type { Page } from "@playwright/test";
import { expect, test } from "./fixtures/test";
import { E2E } from "./fixtures/environment";
import { OverviewPage } from "./fixtures/overview_page";
import { PageLayout } from "./fixtures/layout";
import {
  AlertsPage,
  InboxPage,
  RuleFormPage,
  SavedViewsPage,
  SaveViewPage,
  createRule,
  deleteAlertsAndViews,
  saveView,
  uniqueName,
} from "./fixtures/alerts_pages";

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** A rule that fires on Colombia's view at once: conversion is well below 95% there. */
const firesInColombia = { kind: "conversion_below", threshold: "95", minVerifications: "10" };

/** Dialogs the page opened (an injected `alert` would be one), dismissed as they come. */
function recordDialogs(page: Page): string[] {
  const dialogs: string[] = [];
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  return dialogs;
}

/** `pinnedNow` plus `hours`, as the rules' table writes a time: `2026-12-01 13:55:00`. */
function pinnedPlusHours(hours: number): string {
  const at = new Date(Date.parse(E2E.pinnedNow) + hours * 3_600_000);
  return at.toISOString().replace(/\.\d+Z$/, "").replace("T", " ");
}

// What each test creates carries this marker in its name; it is all deleted after the test.
let marker = "";

test.beforeEach(() => {
  marker = uniqueName("alerts");
});

test.afterEach(async ({ page }) => {
  await deleteAlertsAndViews(page, marker);
});

test("a view of the overview is saved from its link and listed with its filters", async ({ page }) => {
  const overview = new OverviewPage(page);
  const form = new SaveViewPage(page);
  const views = new SavedViewsPage(page);
  const name = `Colombia ${marker}`;
  await overview.goto("country=CO");
  await expect(overview.saveView).toHaveText("Save this view");
  await overview.saveView.click();
  await expect(page).toHaveURL(/\/views\/save\?(.*&)?country=CO(&|$)/);
  // The form names the view by its filters until it is given a name.
  await expect(form.name).toHaveValue(/Country: Colombia \(CO\)/);
  await form.name.fill(name);
  await form.save.click();
  await expect(page).toHaveURL(/\/views$/);
  await expect(views.row(name)).toHaveCount(1);
  await expect(views.filters(name)).toHaveText("Last 30 days · Country: Colombia (CO)");
  // Its link opens the view it saved.
  await expect(views.link(name)).toHaveAttribute("href", /^\/\?(.*&)?country=CO(&|$)/);
  await views.link(name).click();
  await expect(page).toHaveURL(/\/\?(.*&)?country=CO(&|$)/);
  await overview.waitForData();
  await expect(overview.chips).toContainText("Country: Colombia (CO)");
  // The top navigation leads to the saved views and the alerts.
  const sections = page.getByRole("navigation", { name: "Sections" });
  await sections.getByRole("link", { name: "Saved views" }).click();
  await expect(page).toHaveURL(/\/views$/);
  await expect(views.row(name)).toHaveCount(1);
  await sections.getByRole("link", { name: "Alerts" }).click();
  await expect(page).toHaveURL(/\/alerts$/);
  await expect(page.getByRole("heading", { name: "Alerts", level: 1 })).toBeVisible();
});

test("an alert on a saved view fires at once, sends one message to the inbox that leads to the view, and is logged as delivered", async ({
  page,
}) => {
  const views = new SavedViewsPage(page);
  const form = new RuleFormPage(page);
  const alerts = new AlertsPage(page);
  const inbox = new InboxPage(page);
  const viewName = `Colombia ${marker}`;
  const ruleName = `Conversion in Colombia ${marker}`;
  await saveView(page, "country=CO", viewName);

  await views.alertOn(viewName).click();
  await expect(page).toHaveURL(/\/alerts\/new\?view=\d+$/);
  await expect(form.form).toBeVisible();
  // The form is for the view it was opened from.
  await expect(form.view.locator("option:checked")).toContainText(viewName);
  await form.fill({ name: ruleName, ...firesInColombia });
  await expect(form.destination("inbox")).toBeChecked();
  await form.create.click();

  await expect(page).toHaveURL(/\/alerts$/);
  await expect(alerts.rule(ruleName)).toHaveCount(1);
  await expect(alerts.rule(ruleName)).toHaveAttribute("data-state", "firing");
  await expect(alerts.state(ruleName)).toHaveText("firing");
  await expect(alerts.rule(ruleName)).toContainText("Conversion rate below 95%");
  await expect(alerts.rule(ruleName).getByRole("link", { name: viewName })).toBeVisible();
  await expect(alerts.rule(ruleName)).toContainText("at least 10 verifications");

  // One message, delivered in a moment by the background task.
  const title = `Firing: ${ruleName}`;
  await inbox.expectMessages(title, "firing", 1);
  await expect(inbox.message(title)).toHaveCount(1);
  const message = inbox.message(title, "firing");
  await expect(message).toContainText(/Conversion rate [\d.]+% against a threshold of 95%/);

  // The delivery log says it reached the inbox.
  await alerts.goto();
  const delivery = alerts.deliveries(title);
  await expect(delivery).toHaveCount(1);
  await expect(delivery).toHaveAttribute("data-outcome", "delivered");
  await expect(alerts.cells(delivery).nth(2)).toHaveText("inbox");
  await expect(alerts.cells(delivery).nth(3)).toHaveText("delivered");

  // Still one message: the rule was evaluated again (the page loads) but did not start firing again.
  await inbox.goto();
  await expect(inbox.message(title)).toHaveCount(1);
  // Its link leads to the view, with the range fixed to the dates the figures cover.
  const link = inbox.viewLink(inbox.message(title, "firing"));
  await expect(link).toHaveText(`Open ${viewName}`);
  await expect(link).toHaveAttribute("href", new RegExp(`^${escapeRegExp(E2E.dashboardUrl)}/\\?from=\\d{4}-\\d{2}-\\d{2}&to=\\d{4}-\\d{2}-\\d{2}&country=CO$`));
  await link.click();
  await expect(page).toHaveURL(/[?&]country=CO(&|$)/);
  const overview = new OverviewPage(page);
  await overview.waitForData();
  await expect(overview.chips).toContainText("Country: Colombia (CO)");
});

// A deleted rule's messages stay in the inbox; a rule created after it must still send its own.
// (Its id must not make its first message look like a repeat of the deleted rule's: the
// messages' idempotency keys are made of the rule's id, its episode and the kind.)
test("a rule created after another was deleted sends its own firing message", async ({ page }) => {
  const alerts = new AlertsPage(page);
  const inbox = new InboxPage(page);
  const first = `Deleted first ${marker}`;
  const second = `Created after ${marker}`;
  await createRule(page, "country=CO", { name: first, ...firesInColombia });
  await inbox.expectMessages(`Firing: ${first}`, "firing", 1);
  await alerts.goto();
  await alerts.action(first, "Delete").click();
  await expect(alerts.rule(first)).toHaveCount(0);

  await createRule(page, "country=CO", { name: second, ...firesInColombia });
  await expect(alerts.rule(second)).toHaveAttribute("data-state", "firing");
  await inbox.expectMessages(`Firing: ${second}`, "firing", 1);
  // The first rule's message is still there, once.
  await expect(inbox.message(`Firing: ${first}`)).toHaveCount(1);
});

test("a firing rule snoozed for 4 hours shows snoozed until then; pause, resume, unsnooze and a test message work", async ({
  page,
}) => {
  const alerts = new AlertsPage(page);
  const inbox = new InboxPage(page);
  const name = `Snoozed ${marker}`;
  await createRule(page, "country=CO", { name, ...firesInColombia });
  await expect(alerts.rule(name)).toHaveAttribute("data-state", "firing");

  await alerts.snoozeLength(name).selectOption("4h");
  await alerts.action(name, "Snooze").click();
  await expect(alerts.rule(name)).toHaveAttribute("data-state", "snoozed");
  await expect(alerts.state(name)).toHaveText("snoozed");
  // Four hours after the dashboard's (pinned) now.
  await expect(alerts.rule(name)).toContainText(`until ${pinnedPlusHours(4)} UTC`);
  await expect(alerts.action(name, "Unsnooze")).toBeVisible();

  await alerts.action(name, "Pause").click();
  await expect(alerts.rule(name)).toHaveAttribute("data-state", "paused");
  await expect(alerts.state(name)).toHaveText("paused");
  await expect(alerts.action(name, "Pause")).toHaveCount(0);

  // Resumed, it is snoozed still: the snooze has hours to run.
  await alerts.action(name, "Resume").click();
  await expect(alerts.rule(name)).toHaveAttribute("data-state", "snoozed");
  await expect(alerts.action(name, "Pause")).toBeVisible();

  await alerts.action(name, "Unsnooze").click();
  await expect(alerts.rule(name)).toHaveAttribute("data-state", "firing");
  await alerts.action(name, "Pause").click();
  await expect(alerts.rule(name)).toHaveAttribute("data-state", "paused");
  await alerts.action(name, "Resume").click();
  await expect(alerts.rule(name)).toHaveAttribute("data-state", "firing");

  // "Send test" sends a test message; the rule, firing all along, sent one firing message only.
  await alerts.action(name, "Send test").click();
  await expect(page).toHaveURL(/\/alerts$/);
  await inbox.expectMessages(`Test: ${name}`, "test", 1);
  await expect(inbox.message(`Firing: ${name}`)).toHaveCount(1);
  await expect(inbox.message(`Firing: ${name}`, "firing")).toHaveCount(1);
});

test("a threshold that is not a number is refused on the form and creates no rule", async ({ page }) => {
  const form = new RuleFormPage(page);
  const alerts = new AlertsPage(page);
  const name = `Refused ${marker}`;
  await form.goto("country=CO");
  await form.fill({ name, kind: "conversion_below", threshold: "abc", minVerifications: "10" });
  const refused = page.waitForResponse((r) => r.request().method() === "POST" && new URL(r.url()).pathname === "/alerts");
  await form.create.click();
  expect((await refused).status()).toBe(400);
  await expect(form.error).toBeVisible();
  await expect(form.error).toHaveText('The threshold (%) must be a number, not "abc".');
  await expect(form.error).toHaveAttribute("role", "alert");
  // The form is shown again with what was typed, to correct it.
  await expect(form.name).toHaveValue(name);
  await expect(form.threshold).toHaveValue("abc");
  await alerts.goto();
  await expect(alerts.rule(name)).toHaveCount(0);
  await expect(alerts.rulesContaining(marker)).toHaveCount(0);
  await new SavedViewsPage(page).goto();
  await expect(new SavedViewsPage(page).rowsContaining(marker)).toHaveCount(0);
});

test("names with markup are shown as text on the views, the alerts and the inbox", async ({ page }) => {
  const dialogs = recordDialogs(page);
  const views = new SavedViewsPage(page);
  const form = new RuleFormPage(page);
  const alerts = new AlertsPage(page);
  const inbox = new InboxPage(page);
  const name = `<img src=x onerror=alert(1)> ${marker}`;
  const expectInert = async (where: string) => {
    expect(dialogs, `dialogs opened on ${where}`).toEqual([]);
    expect(await page.locator("img").count(), `img elements on ${where}`).toBe(0);
    expect(await page.locator("[onerror]").count(), `elements with onerror on ${where}`).toBe(0);
  };

  await saveView(page, "country=CO", name);
  await expect(views.link(name)).toHaveText(name);
  await expect(views.link(name)).toBeVisible();
  await expect(views.row(name).getByRole("textbox")).toHaveValue(name);
  await expectInert("/views");

  await views.alertOn(name).click();
  await expect(form.view.locator("option:checked")).toContainText(name);
  await expect(form.name).toHaveValue(`${name}: conversion`);
  await expectInert("the rule form");
  await form.fill({ name, ...firesInColombia });
  await form.create.click();
  await expect(page).toHaveURL(/\/alerts$/);
  await expect(alerts.rule(name).locator("td:first-child > strong")).toHaveText(name);
  await expect(alerts.rule(name).locator("td:first-child > strong")).toBeVisible();
  await expect(alerts.rule(name)).toHaveAttribute("data-state", "firing");
  await expectInert("/alerts");

  await inbox.expectMessages(`Firing: ${name}`, "firing", 1);
  await expect(inbox.message(`Firing: ${name}`).locator("strong")).toBeVisible();
  await expect(inbox.viewLink(inbox.message(`Firing: ${name}`))).toHaveText(`Open ${name}`);
  await expectInert("/alerts/inbox");

  // Refused, the form shows the typed name back as text too.
  await form.goto("country=CO");
  await form.fill({ name, kind: "conversion_below", threshold: "abc", minVerifications: "10" });
  await form.create.click();
  await expect(form.error).toBeVisible();
  await expect(form.name).toHaveValue(name);
  await expectInert("the refused rule form");
});

test("the rule form is filled and sent with the keyboard alone, from the overview's link", async ({ page }) => {
  const overview = new OverviewPage(page);
  const form = new RuleFormPage(page);
  const alerts = new AlertsPage(page);
  const layout = new PageLayout(page);
  const name = `Keyboard ${marker}`;
  await overview.goto("country=CO");
  await overview.alertOnView.focus();
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/alerts\/new\?(.*&)?country=CO(&|$)/);
  await expect(form.form).toBeVisible();

  // The skip link first, as on every page, then the form's first field.
  await page.keyboard.press("Tab");
  await expect(layout.skipLink).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(layout.content).toBeFocused();
  await page.keyboard.press("Tab");
  await expect(form.name).toBeFocused();
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.type(name);

  // The condition: a select, changed with the arrow keys and back.
  expect(await layout.tabsUntilFocusIn(form.kind, 5), "Tabs from the name to the condition").not.toBeNull();
  await expect(form.kind).toHaveValue("conversion_below");
  await page.keyboard.press("ArrowDown");
  await expect(form.kind).toHaveValue("conversion_drop");
  await page.keyboard.press("ArrowUp");
  await expect(form.kind).toHaveValue("conversion_below");

  expect(await layout.tabsUntilFocusIn(form.threshold, 5), "Tabs to the threshold").not.toBeNull();
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.type("95");
  expect(await layout.tabsUntilFocusIn(form.minVerifications, 8), "Tabs to the minimum volume").not.toBeNull();
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.type("10");

  // The inbox, checked by default: Space unchecks it and checks it again.
  const inboxBox = form.destination("inbox");
  expect(await layout.tabsUntilFocusIn(inboxBox, 5), "Tabs to the inbox").not.toBeNull();
  await expect(inboxBox).toBeChecked();
  await page.keyboard.press("Space");
  await expect(inboxBox).not.toBeChecked();
  await page.keyboard.press("Space");
  await expect(inboxBox).toBeChecked();

  expect(await layout.tabsUntilFocusIn(form.create, 5), "Tabs to Create alert").not.toBeNull();
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/alerts$/);
  await expect(alerts.rule(name)).toHaveCount(1);
  await expect(alerts.rule(name)).toHaveAttribute("data-state", "firing");
  await expect(alerts.rule(name)).toContainText("Conversion rate below 95%");
  await expect(alerts.rule(name)).toContainText("at least 10 verifications");
});

test("without JavaScript, a view is saved, an alert created on it fires, and its message reaches the inbox", async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  try {
    const page = await context.newPage();
    const overview = new OverviewPage(page);
    const saveForm = new SaveViewPage(page);
    const views = new SavedViewsPage(page);
    const form = new RuleFormPage(page);
    const alerts = new AlertsPage(page);
    const inbox = new InboxPage(page);
    const viewName = `No script ${marker}`;
    const ruleName = `No script rule ${marker}`;

    await overview.goto("country=CO");
    await overview.saveView.click();
    await expect(page).toHaveURL(/\/views\/save\?(.*&)?country=CO(&|$)/);
    await saveForm.name.fill(viewName);
    await saveForm.save.click();
    await expect(page).toHaveURL(/\/views$/);
    await expect(views.filters(viewName)).toHaveText("Last 30 days · Country: Colombia (CO)");

    await views.alertOn(viewName).click();
    await expect(form.view.locator("option:checked")).toContainText(viewName);
    await form.fill({ name: ruleName, ...firesInColombia });
    await form.create.click();
    await expect(page).toHaveURL(/\/alerts$/);
    await expect(alerts.rule(ruleName)).toHaveAttribute("data-state", "firing");

    await inbox.expectMessages(`Firing: ${ruleName}`, "firing", 1);
    await expect(inbox.viewLink(inbox.message(`Firing: ${ruleName}`))).toHaveText(`Open ${viewName}`);

    // The rule's forms post without JavaScript too.
    await alerts.goto();
    await alerts.action(ruleName, "Pause").click();
    await expect(alerts.rule(ruleName)).toHaveAttribute("data-state", "paused");
    await alerts.action(ruleName, "Resume").click();
    await expect(alerts.rule(ruleName)).toHaveAttribute("data-state", "firing");
  } finally {
    await context.close();
  }
});
