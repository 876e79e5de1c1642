import { expect, test } from "@playwright/test";
import { defaultRangeStart, figuresByCountry, listAllAttempts, percent } from "./fixtures/emulator";
import { OverviewPage } from "./fixtures/overview_page";

test("the country table equals the figures computed from the API", async ({ page }) => {
  const overview = new OverviewPage(page);
  await overview.goto();
  const expected = figuresByCountry(await listAllAttempts({ DateCreatedAfter: defaultRangeStart() }));
  const rows = await overview.countryRows();
  expect(rows.length).toBe(expected.size);
  for (const row of rows) {
    const want = expected.get(row.country);
    expect(want, `country ${row.country}`).toBeDefined();
    expect(row.attempts, `attempts in ${row.country}`).toBe(want!.attempts);
    expect(row.converted, `converted in ${row.country}`).toBe(want!.converted);
    expect(row.rate).toBe(percent(want!.converted, want!.attempts));
  }
  const total = [...expected.values()].reduce((sum, f) => sum + f.attempts, 0);
  const converted = [...expected.values()].reduce((sum, f) => sum + f.converted, 0);
  expect(await overview.totalAttempts()).toBe(total);
  expect(await overview.conversionRate()).toBe(percent(converted, total));
});

test("the table is in the server-rendered HTML, before any JavaScript", async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const overview = new OverviewPage(page);
  await overview.goto();
  expect((await overview.countryRows()).length).toBeGreaterThan(5);
  await expect(overview.chartCanvas()).toHaveCount(0);
  await context.close();
});

test("the chart's canvas appears after hydration", async ({ page }) => {
  const overview = new OverviewPage(page);
  await overview.goto();
  await expect(overview.chartCanvas().first()).toBeVisible();
});

test("?channel=sms shows only SMS figures", async ({ page }) => {
  const overview = new OverviewPage(page);
  await overview.goto("channel=sms");
  const sms = figuresByCountry(await listAllAttempts({ DateCreatedAfter: defaultRangeStart(), Channel: "sms" }));
  const all = figuresByCountry(await listAllAttempts({ DateCreatedAfter: defaultRangeStart() }));
  const smsTotal = [...sms.values()].reduce((sum, f) => sum + f.attempts, 0);
  const allTotal = [...all.values()].reduce((sum, f) => sum + f.attempts, 0);
  expect(smsTotal).toBeLessThan(allTotal);
  expect(await overview.totalAttempts()).toBe(smsTotal);
  for (const row of await overview.countryRows()) {
    expect(row.attempts, `SMS attempts in ${row.country}`).toBe(sms.get(row.country)?.attempts);
    expect(row.converted).toBe(sms.get(row.country)?.converted);
  }
  await expect(overview.channelLink("SMS")).toHaveAttribute("aria-current", "page");
});

test("clicking a channel filter writes it to the URL", async ({ page }) => {
  const overview = new OverviewPage(page);
  await overview.goto();
  await expect(overview.chartCanvas().first()).toBeVisible();
  await overview.channelLink("WhatsApp").click();
  await expect(page).toHaveURL(/\/\?channel=whatsapp$/);
  await expect(overview.channelLink("WhatsApp")).toHaveAttribute("aria-current", "page");
  const whatsapp = await listAllAttempts({ DateCreatedAfter: defaultRangeStart(), Channel: "whatsapp" });
  await expect(page.getByTestId("kpi-attempts")).toHaveText(whatsapp.length.toLocaleString("en-US"));
});

test("an invalid parameter shows a notice and the rest of the view", async ({ page }) => {
  const overview = new OverviewPage(page);
  const response = await page.goto("/?channel=fax&country=CO");
  expect(response?.status()).toBe(200);
  await expect(overview.notice).toContainText("fax");
  const rows = await overview.countryRows();
  expect(rows.map((r) => r.country)).toEqual(["CO"]);
});

test("a screenshot of the overview for review", async ({ page }) => {
  const overview = new OverviewPage(page);
  await page.setViewportSize({ width: 1280, height: 900 });
  await overview.goto();
  await expect(overview.chartCanvas().first()).toBeVisible();
  await page.screenshot({ path: "screenshots/overview.png", fullPage: true });
});
