// Getting around: filters and sorting live in the URL, back/forward restore views, the
// drill-down from a country to one attempt, the attempts list's paging, shareable links.
import { expect, test } from "./fixtures/test";
import { attemptsInDefaultRange, byCarrier, byError, figuresBy, formatCount, percent } from "./fixtures/emulator";
import { AttemptPage } from "./fixtures/attempt_page";
import { AttemptsPage } from "./fixtures/attempts_page";
import { OverviewPage } from "./fixtures/overview_page";

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

test("clicking a channel filter writes it to the URL and back/forward restore views", async ({ page }) => {
  const overview = new OverviewPage(page);
  await overview.goto();
  await expect(overview.chartCanvas().first()).toBeVisible();
  const allAttempts = await overview.totalAttempts();
  await overview.channelLink("WhatsApp").click();
  await expect(page).toHaveURL(/\/\?channel=whatsapp$/);
  await expect(overview.channelLink("WhatsApp")).toHaveAttribute("aria-current", "true");
  const whatsapp = await attemptsInDefaultRange({ Channel: "whatsapp" });
  await expect(overview.kpiValue("attempts")).toHaveText(formatCount(whatsapp.length));
  await page.goBack();
  await expect(overview.kpiValue("attempts")).toHaveText(formatCount(allAttempts));
  await page.goForward();
  await expect(overview.kpiValue("attempts")).toHaveText(formatCount(whatsapp.length));
});

test("sorting by a column header reorders the table, rates worst first on the first click", async ({ page }) => {
  const overview = new OverviewPage(page);
  await overview.goto();
  const rates = async () => (await overview.rows()).map((r) => parseFloat(r.rate));
  await overview.sortLink("Attempt conversion rate").click();
  await expect(page).toHaveURL(/sort=rate/);
  await expect(overview.columnHeader("Attempt conversion rate")).toHaveAttribute("aria-sort", "ascending");
  const ascending = await rates();
  expect(ascending.length).toBeGreaterThan(1);
  expect(ascending).toEqual([...ascending].sort((a, b) => a - b));
  await overview.sortLink("Attempt conversion rate").click();
  await expect(page).not.toHaveURL(/dir=asc/);
  await expect(page).toHaveURL(/sort=rate/);
  await expect(overview.columnHeader("Attempt conversion rate")).toHaveAttribute("aria-sort", "descending");
  const descending = await rates();
  expect(descending).toEqual([...ascending].sort((a, b) => b - a));
});

test("drill down from a country to a carrier, an error code, the attempts and one attempt", async ({ page }) => {
  const overview = new OverviewPage(page);
  const attemptsList = new AttemptsPage(page);
  const attempt = new AttemptPage(page);
  await overview.goto();

  await overview.rowLink("CO").click();
  await expect(page).toHaveURL(/\/\?country=CO&by=carrier$/);
  await expect(overview.table).toHaveAttribute("data-by", "carrier");
  const colombia = await attemptsInDefaultRange({ Country: "CO" });
  const carriers = figuresBy(colombia, byCarrier);
  const rows = await overview.rows();
  expect(rows.length).toBe(carriers.size);
  for (const row of rows) {
    expect(row.attempts, row.key).toBe(carriers.get(row.key)?.attempts);
    expect(row.rate, row.key).toBe(percent(carriers.get(row.key)!.converted, carriers.get(row.key)!.attempts));
  }
  await expect(overview.breadcrumbs).toContainText("CO");

  const carrier = rows.find((r) => r.key !== "")!.key;
  await overview.rowLink(carrier).click();
  await expect(page).toHaveURL(new RegExp(`country=CO&carrier=${encodeURIComponent(carrier)}&by=error`));
  await expect(overview.table).toHaveAttribute("data-by", "error");
  const errors = figuresBy(
    colombia.filter((a) => a.channel_data?.carrier === carrier),
    byError,
  );
  expect((await overview.rows()).map((r) => r.key).sort()).toEqual([...errors.keys()].sort());
  await page.screenshot({ path: "screenshots/drilldown.png", fullPage: true });

  const errorKey = (await overview.rows())[0].key;
  await overview.rowLink(errorKey).click();
  await expect(page).toHaveURL(/\/attempts\?country=CO&carrier=.*&error=/);
  const firstAttempt = attemptsList.rows.first();
  await expect(firstAttempt).toBeVisible();
  await expect(attemptsList.recipient(firstAttempt)).toContainText("•••");
  const sid = await attemptsList.sid(firstAttempt);
  const listQuery = new URL(page.url()).search;
  await attemptsList.attemptLink(firstAttempt).click();
  // The attempt's link carries the list's view, so its page can lead back to the list.
  await expect(page).toHaveURL(new RegExp(`/attempts/${sid}${escapeRegExp(listQuery)}$`));
  await expect(attempt.sid).toHaveText(sid!);
  await expect(attempt.fields).toContainText("CO");

  await page.goBack();
  await expect(page).toHaveURL(/\/attempts\?/);
  await page.goBack();
  await expect(page).toHaveURL(/by=error/);
});

test("a copied link opened in a fresh browser shows the same numbers", async ({ page, browser }) => {
  const overview = new OverviewPage(page);
  await overview.goto("range=7d&channel=sms&by=carrier");
  const permalink = await overview.permalinkHref();
  expect(permalink).toMatch(/from=\d{4}-\d{2}-\d{2}&to=\d{4}-\d{2}-\d{2}/);
  const rows = await overview.rows();
  const context = await browser.newContext();
  const fresh = new OverviewPage(await context.newPage());
  await fresh.goto(permalink!.replace(/^\/\?/, ""));
  expect(await fresh.rows()).toEqual(rows);
  await context.close();
});

test("the attempts list pages through older attempts without repeats", async ({ page }) => {
  const attemptsList = new AttemptsPage(page);
  await attemptsList.goto("country=MX");
  const first = await attemptsList.sids();
  expect(first.length).toBe(50);
  await attemptsList.older.click();
  await expect(page).toHaveURL(/page=/);
  await expect(attemptsList.rows.first()).not.toHaveAttribute("data-sid", first[0]!);
  const second = await attemptsList.sids();
  expect(second.length).toBeGreaterThan(0);
  expect(second.filter((sid) => first.includes(sid))).toEqual([]);
  const mexico = await attemptsInDefaultRange({ Country: "MX" });
  expect(first.concat(second)).toEqual(mexico.slice(0, first.length + second.length).map((a) => a.sid));
});

test("a country is found by its name in the filter bar, with the keyboard alone", async ({ page }) => {
  const overview = new OverviewPage(page);
  const colombia = figuresBy(await attemptsInDefaultRange({ Country: "CO" }), () => "CO").get("CO")!;
  await overview.goto("by=channel");
  const search = page.getByTestId("country-search");
  // The browser suggests countries by name: the datalist holds every country, code and name.
  await expect(page.locator('#country-names option[value="CO"]')).toHaveText("Colombia");
  await search.focus();
  await page.keyboard.type("colombia");
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/[?&]country=colombia(&|$)/);
  await expect(page.getByTestId("chips")).toContainText("Country: Colombia (CO)");
  await expect(overview.table).toHaveAttribute("data-by", "channel");
  expect(await overview.totalAttempts()).toBe(colombia.attempts);
});
