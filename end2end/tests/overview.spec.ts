import { expect, test } from "./fixtures/test";
import {
  attemptsInDefaultRange,
  byCountry,
  dayStart,
  figures,
  figuresBy,
  formatCount,
  listAllAttempts,
  percent,
  type ApiAttempt,
  type Figures,
} from "./fixtures/emulator";
import { OverviewPage, type BreakdownRow } from "./fixtures/overview_page";

function expectRowsMatch(rows: BreakdownRow[], expected: ReturnType<typeof figuresBy>) {
  expect(rows.length).toBe(expected.size);
  for (const row of rows) {
    const want = expected.get(row.key);
    expect(want, `row ${row.key}`).toBeDefined();
    expect(row.attempts, `attempts of ${row.key}`).toBe(want!.attempts);
    expect(row.converted, `converted of ${row.key}`).toBe(want!.converted);
    expect(row.verifications, `verifications of ${row.key}`).toBe(want!.verifications);
    expect(row.rate).toBe(percent(want!.converted, want!.attempts));
    expect(row.verificationRate).toBe(percent(want!.convertedVerifications, want!.verifications));
  }
}

async function expectKpisMatch(overview: OverviewPage, attempts: ApiAttempt[]) {
  const f = figures(attempts);
  expect(await overview.totalAttempts()).toBe(f.attempts);
  expect(await overview.kpi("verifications")).toBe(formatCount(f.verifications));
  expect(await overview.conversionRate()).toBe(percent(f.converted, f.attempts));
  expect(await overview.kpi("verification-conversion")).toBe(percent(f.convertedVerifications, f.verifications));
  const spend = (await overview.kpi("spend")).replace(/[$,]/g, "");
  expect(Number(spend)).toBeCloseTo(f.spend, 1);
  const perVerification = (await overview.kpi("attempts-per-verification")).trim();
  expect(perVerification).toBe((f.attempts / f.verifications).toFixed(2));
}

test("the country breakdown and KPIs equal the figures computed from the API", async ({ page }) => {
  const overview = new OverviewPage(page);
  await overview.goto();
  const attempts = await attemptsInDefaultRange();
  expectRowsMatch(await overview.rows(), figuresBy(attempts, byCountry));
  await expectKpisMatch(overview, attempts);
});

for (const [query, params, local] of [
  ["channel=sms", { Channel: "sms" }, (_: ApiAttempt) => true],
  ["country=BR&channel=whatsapp", { Country: "BR", Channel: "whatsapp" }, (_: ApiAttempt) => true],
  ["status=unconverted&country=IN", { Status: "unconverted", Country: "IN" }, (_: ApiAttempt) => true],
  ["country=US&carrier=AT%26T", { Country: "US" }, (a: ApiAttempt) => a.channel_data?.carrier === "AT&T"],
] as const) {
  test(`?${query} shows the figures of that filter`, async ({ page }) => {
    const overview = new OverviewPage(page);
    await overview.goto(query);
    const attempts = (await attemptsInDefaultRange(params)).filter(local);
    expect(attempts.length).toBeGreaterThan(0);
    await expectKpisMatch(overview, attempts);
    expectRowsMatch(await overview.rows(), figuresBy(attempts, byCountry));
  });
}

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
  await expect(overview.timeseries.locator("canvas").first()).toBeVisible();
});

test("clicking a channel filter writes it to the URL and back/forward restore views", async ({ page }) => {
  const overview = new OverviewPage(page);
  await overview.goto();
  await expect(overview.chartCanvas().first()).toBeVisible();
  const allAttempts = await overview.totalAttempts();
  await overview.channelLink("WhatsApp").click();
  await expect(page).toHaveURL(/\/\?channel=whatsapp$/);
  await expect(overview.channelLink("WhatsApp")).toHaveAttribute("aria-current", "true");
  const whatsapp = await attemptsInDefaultRange({ Channel: "whatsapp" });
  await expect(page.getByTestId("kpi-attempts")).toHaveText(formatCount(whatsapp.length));
  await page.goBack();
  await expect(page.getByTestId("kpi-attempts")).toHaveText(formatCount(allAttempts));
  await page.goForward();
  await expect(page.getByTestId("kpi-attempts")).toHaveText(formatCount(whatsapp.length));
});

test("sorting by a column header reorders the table", async ({ page }) => {
  const overview = new OverviewPage(page);
  await overview.goto();
  await overview.table.getByRole("link", { name: "Attempt conversion rate" }).click();
  await expect(page).toHaveURL(/sort=rate/);
  const header = overview.table.getByRole("columnheader", { name: /Attempt conversion rate/ });
  await expect(header).toHaveAttribute("aria-sort", "descending");
  const rates = (await overview.rows()).map((r) => parseFloat(r.rate));
  expect(rates).toEqual([...rates].sort((a, b) => b - a));
});

test("invalid parameters show a notice and the rest of the view", async ({ page }) => {
  const overview = new OverviewPage(page);
  const response = await page.goto("/?channel=fax&country=CO&range=forever&by=planet");
  expect(response?.status()).toBe(200);
  await expect(overview.notice).toContainText("fax");
  await expect(overview.notice).toContainText("forever");
  await expect(overview.notice).toContainText("planet");
  expect((await overview.rows()).map((r) => r.key)).toEqual(["CO"]);
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

/** Two-sided p-value of a pooled two-proportion z-test (Abramowitz–Stegun erf, 1.5e-7). */
function pValue(x1: number, n1: number, x2: number, n2: number): number {
  const pooled = (x1 + x2) / (n1 + n2);
  if (pooled === 0 || pooled === 1) return 1;
  const z = Math.abs(x1 / n1 - x2 / n2) / Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  const x = z / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return 1 - erf;
}

/** The pooled z-test on converted verifications over verifications. */
function verificationPValue(now: Figures, then: Figures): number {
  return pValue(now.convertedVerifications, now.verifications, then.convertedVerifications, then.verifications);
}

/** Benjamini–Hochberg adjusted p-values (step-up), in the order given. */
function benjaminiHochberg(p: number[]): number[] {
  const ranked = p.map((_, i) => i).sort((a, b) => p[a] - p[b]);
  const adjusted = p.map(() => 1);
  let smallestAbove = 1;
  for (let rank = p.length; rank >= 1; rank--) {
    const i = ranked[rank - 1];
    smallestAbove = Math.min(smallestAbove, (p[i] * p.length) / rank);
    adjusted[i] = smallestAbove;
  }
  return adjusted;
}

test("the conversion change compares the days that are over with the same days a week earlier, as the API counts", async ({
  page,
}) => {
  const overview = new OverviewPage(page);
  await overview.goto("range=7d");
  // Today is in progress (its conversions are still arriving): it is left out of the comparison.
  const basis = page.getByTestId("comparison-basis");
  await expect(basis).toHaveAttribute("data-same-elapsed", "true");
  await expect(basis).toHaveAttribute("data-current-start", dayStart(-6));
  await expect(basis).toHaveAttribute("data-previous-start", dayStart(-13));
  const bound = async (name: string) => (await basis.getAttribute(`data-${name}`))!;
  const now = await listAllAttempts({ DateCreatedAfter: dayStart(-6), DateCreatedBefore: await bound("current-end") });
  const then = await listAllAttempts({ DateCreatedAfter: dayStart(-13), DateCreatedBefore: await bound("previous-end") });
  const [current, previous] = [figures(now), figures(then)];
  expect(current.attempts).toBeGreaterThan(0);
  const points = ((current.converted / current.attempts - previous.converted / previous.attempts) * 100).toFixed(1);
  const change = page.getByTestId("kpi-conversion-change");
  await expect(change).toContainText(`${Number(points) >= 0 ? "+" : ""}${points} pts vs the same`);
  // Tested on verifications, with the false discovery rate held at 5% across this test and one per country.
  const before = figuresBy(then, byCountry);
  const countries = [...figuresBy(now, byCountry)]
    .filter(([key, f]) => f.verifications > 0 && (before.get(key)?.verifications ?? 0) > 0)
    .map(([key, f]) => verificationPValue(f, before.get(key)!));
  const adjusted = benjaminiHochberg([verificationPValue(current, previous), ...countries]);
  await expect(change).toHaveAttribute("data-significant", String(adjusted[0] <= 0.05));
  await expect(change).toHaveAttribute("title", /Benjamini–Hochberg across the \d+ tests/);
  await expect(page.getByTestId("comparison-note")).toHaveCount(0);
});

test("without enough history the page says why there is no comparison", async ({ page }) => {
  const overview = new OverviewPage(page);
  await overview.goto("range=90d");
  await expect(page.getByTestId("comparison-note")).toContainText("does not reach back");
  await expect(page.getByTestId("kpi-conversion-change")).toHaveCount(0);
});

test("after a client-side navigation the chart shows only the new view's series", async ({ page }) => {
  const overview = new OverviewPage(page);
  await overview.goto("country=CO&by=carrier");
  await expect(overview.timeseries.locator("canvas").first()).toBeVisible();
  const seriesNames = () =>
    page.evaluate(() => {
      const echarts = (window as unknown as { echarts: any }).echarts;
      const chart = echarts.getInstanceByDom(document.getElementById("chart-timeseries"));
      return chart.getOption().series.map((s: { name: string }) => s.name);
    });
  expect(await seriesNames()).toEqual(["Call", "Email", "SMS", "WhatsApp", "conversion %"]);
  await overview.channelLink("SMS").click();
  await expect(page).toHaveURL(/channel=sms/);
  await expect.poll(seriesNames).toEqual(["SMS", "conversion %"]);
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
