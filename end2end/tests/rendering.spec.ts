// How the overview reaches the browser: server-rendered and usable without JavaScript,
// hydrated into charts, redrawn after client-side navigation, light over the wire; and a
// screenshot for review.
import { expect, test } from "./fixtures/test";
import { OverviewPage } from "./fixtures/overview_page";

test("the page is server-rendered and readable without JavaScript", async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const overview = new OverviewPage(page);
  await overview.goto();
  expect((await overview.rows()).length).toBeGreaterThan(5);
  await expect(overview.chartCanvas()).toHaveCount(0);
  // Filters are plain links and a GET form, so they work too.
  await overview.channelLink("SMS").click();
  await expect(page).toHaveURL(/\?channel=sms$/);
  await overview.waitForData();
  await context.close();
});

test("the charts' canvases appear after hydration", async ({ page }) => {
  const overview = new OverviewPage(page);
  await overview.goto();
  await expect(overview.chartCanvas().first()).toBeVisible();
  await expect(overview.timeseriesCanvas().first()).toBeVisible();
});

test("a screenshot of the overview for review", async ({ page }) => {
  const overview = new OverviewPage(page);
  await page.setViewportSize({ width: 1280, height: 900 });
  await overview.goto();
  await expect(overview.chartCanvas().first()).toBeVisible();
  await page.screenshot({ path: "screenshots/overview.png", fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: "screenshots/overview-phone.png", fullPage: true });
});

test("after a client-side navigation the chart shows only the new view's series", async ({ page }) => {
  const overview = new OverviewPage(page);
  await overview.goto("country=CO&by=carrier");
  await expect(overview.timeseriesCanvas().first()).toBeVisible();
  // With several channels, each has its own rate line after the overall one (the legend turns them on).
  expect(await overview.timeseriesSeriesNames()).toEqual([
    "Call",
    "Email",
    "SMS",
    "WhatsApp",
    "conversion %",
    "Call conversion %",
    "Email conversion %",
    "SMS conversion %",
    "WhatsApp conversion %",
  ]);
  await overview.channelLink("SMS").click();
  await expect(page).toHaveURL(/channel=sms/);
  // With one channel, its rate is the overall rate: no line of its own.
  await expect.poll(() => overview.timeseriesSeriesNames()).toEqual(["SMS", "conversion %"]);
});

test("the page with its wasm, ECharts and CSS weighs under 600 KB over the wire", async ({ page }) => {
  const responses: import("@playwright/test").Response[] = [];
  page.on("response", (r) => responses.push(r));
  const overview = new OverviewPage(page);
  await overview.goto();
  await expect(overview.chartCanvas().first()).toBeVisible();
  let total = 0;
  for (const r of responses) total += (await r.request().sizes()).responseBodySize;
  const urls = responses.map((r) => new URL(r.url()).pathname);
  expect(urls).toEqual(expect.arrayContaining(["/pkg/verilens_bg.wasm", "/echarts.min.js", "/pkg/verilens.css"]));
  expect(total).toBeLessThan(600 * 1024);
});
