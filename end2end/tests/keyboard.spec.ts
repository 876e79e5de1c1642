// Getting around with the keyboard: the first Tab on any page reaches "Skip to content",
// which moves the focus to the page's content, past the header and the filters' links.
import type { Browser, Page } from "@playwright/test";
import { expect, test } from "./fixtures/test";
import { attemptsInDefaultRange } from "./fixtures/emulator";
import { PageLayout } from "./fixtures/layout";
import { OverviewPage } from "./fixtures/overview_page";

/** The overview, an attempts list and an attempt's page. */
async function pages(): Promise<string[]> {
  const [attempt] = await attemptsInDefaultRange({ Country: "CO" });
  return ["/", "/attempts?country=CO", `/attempts/${attempt.sid}?country=CO`];
}

/** On each page: Tab, then Enter on the skip link; then from the overview's top, Tabs to its breakdown table. */
async function expectSkipLinkWorks(page: Page) {
  const layout = new PageLayout(page);
  for (const path of await pages()) {
    await page.goto(path);
    await expect(layout.content).toBeVisible();
    await page.keyboard.press("Tab");
    await expect(layout.skipLink, `the first Tab on ${path}`).toBeFocused();
    await page.keyboard.press("Enter");
    await expect(layout.content, `the content of ${path}, after the skip link`).toBeFocused();
    await page.keyboard.press("Tab");
    expect(await layout.focusIsIn(layout.content), `the Tab after the skip link on ${path}`).toBe(true);
  }
  const overview = new OverviewPage(page);
  await overview.goto();
  await page.keyboard.press("Tab");
  await page.keyboard.press("Enter");
  await expect(layout.content).toBeFocused();
  // The filters (a date field is four stops in Chromium), the range's links (with "Save this
  // view" and "Alert on this view", two stops added with the alerts), "What to do" (its CSV,
  // four entries and "more"), "Worth a look" and the charts' tables come first: 51 stops
  // today. 42 before the alerts' two links; 44 before the ranges "12 months" and "All" and
  // the comparison's four links and "Other days…" (whose date fields stay closed until
  // asked for); the limit moved with each, keeping its margin of two. (The header's "Saved
  // views" and "Alerts" come before the skip link's target, so they add no stop here.)
  const tabs = await layout.tabsUntilFocusIn(overview.table, 53);
  expect(tabs, "Tabs from the skip link to the breakdown table (fewer than 54)").not.toBeNull();
}

async function withoutJavaScript(browser: Browser, run: (page: Page) => Promise<void>) {
  const context = await browser.newContext({ javaScriptEnabled: false });
  await run(await context.newPage());
  await context.close();
}

test("without JavaScript, the skip link is the first Tab and moves the focus to the content", async ({ browser }) => {
  await withoutJavaScript(browser, expectSkipLinkWorks);
});

test("on the hydrated pages, the skip link is the first Tab and moves the focus to the content", async ({ page }) => {
  await expectSkipLinkWorks(page);
});
