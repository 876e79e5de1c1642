// At a phone's width (390 px) the pages fit the screen: wide tables scroll inside their own
// box with their first column kept in view, and the attempts' times stay on one line.
import type { Locator } from "@playwright/test";
import { expect, test } from "./fixtures/test";
import { attemptsInDefaultRange } from "./fixtures/emulator";
import { AttemptPage } from "./fixtures/attempt_page";
import { AttemptsPage } from "./fixtures/attempts_page";
import { PageLayout } from "./fixtures/layout";
import { OverviewPage } from "./fixtures/overview_page";

test.use({ viewport: { width: 390, height: 844 } });

async function expectNoSidewaysScroll(layout: PageLayout, where: string) {
  const { scrollWidth, viewport } = await layout.pageWidths();
  expect(viewport).toBe(390);
  expect(scrollWidth, `the width of ${where}`).toBeLessThanOrEqual(viewport + 1);
}

async function expectScrollsInItsBox(layout: PageLayout, table: Locator, where: string) {
  const box = await layout.tableLayout(table);
  expect(box.scrollerScrollWidth, `${where}: the table is wider than its box`).toBeGreaterThan(box.scrollerClientWidth);
  expect(box.firstColumnPositions.length).toBeGreaterThan(0);
  expect(new Set(box.firstColumnPositions), `${where}: its first column`).toEqual(new Set(["sticky"]));
}

test("the overview and the attempts list fit a phone's width; their tables scroll in their own box", async ({ page }) => {
  const layout = new PageLayout(page);
  const overview = new OverviewPage(page);
  await overview.goto();
  await expect(overview.timeseriesCanvas().first()).toBeVisible();
  await expect(overview.chartCanvas().first()).toBeVisible();
  await expectNoSidewaysScroll(layout, "/");
  await expectScrollsInItsBox(layout, overview.table, "the breakdown");

  const attemptsList = new AttemptsPage(page);
  await attemptsList.goto("country=CO");
  await expect(attemptsList.rows.first()).toBeVisible();
  await expectNoSidewaysScroll(layout, "/attempts?country=CO");
  await expectScrollsInItsBox(layout, attemptsList.table, "the attempts");
  const created = attemptsList.createdCell(attemptsList.rows.first());
  await expect(created).toHaveText(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
  expect(await layout.cellLines(created), "the first attempt's time").toEqual({ whiteSpace: "nowrap", lines: 1 });
});

test("an attempt's page fits a phone's width", async ({ page }) => {
  const layout = new PageLayout(page);
  const attempt = new AttemptPage(page);
  const [first] = await attemptsInDefaultRange({ Country: "CO" });
  await attempt.goto(first.sid, "country=CO");
  await expect(attempt.sid).toHaveText(first.sid);
  await expectNoSidewaysScroll(layout, `/attempts/${first.sid}?country=CO`);
  await expectScrollsInItsBox(layout, attempt.verificationTable, "the verification's attempts");
});

test("at a phone's width the rate chart labels every bar and the time chart's legend sits under its plot", async ({ page }) => {
  const overview = new OverviewPage(page);
  await overview.goto();
  await expect(overview.chartCanvas().first()).toBeVisible();
  const categories = await overview.rateChartCategories();
  expect(categories.length).toBeGreaterThan(8);
  expect(await overview.rateChartDrawnLabels(), "no label dropped").toEqual(categories);
  const legend = await overview.timeseriesLegendPlacement();
  expect(legend.bottom).toBe(0);
  expect(legend.legendTop, "the legend starts below the plot's top, where the axes' names are").toBeGreaterThan(legend.plotTop);
});

test("the saved views, the alerts, the rule form and the inbox fit a phone's width", async ({ page }) => {
  const layout = new PageLayout(page);
  // A saved view gives the digest form its select, whose option is the view's (long) name.
  const name = `Phone width ${Date.now().toString(36)} with a long name for the select`;
  await page.goto(`/views/save?country=CO`);
  await page.locator("#view-name").fill(name);
  await page.getByRole("button", { name: "Save view" }).click();
  // The post's answer and its redirect must be complete before the next page: the fixture
  // reads every response's body at the end.
  await expect(page.getByTestId("saved-view").filter({ hasText: name })).toHaveCount(1);
  for (const path of ["/views", "/alerts", "/alerts/new?country=CO&range=7d", "/alerts/inbox"]) {
    await page.goto(path);
    await expectNoSidewaysScroll(layout, path);
  }
  await page.goto("/views");
  const row = page.getByTestId("saved-view").filter({ hasText: name });
  await row.getByRole("button", { name: `Delete ${name}` }).click();
  await expect(page.getByTestId("saved-view").filter({ hasText: name })).toHaveCount(0);
});
