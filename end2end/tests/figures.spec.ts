// The figures on the overview equal the figures computed from the emulator's API: the KPIs
// and the breakdown, unfiltered and for several filters.
import { expect, test } from "./fixtures/test";
import {
  attemptsInDefaultRange,
  byCountry,
  figures,
  figuresBy,
  formatCount,
  percent,
  type ApiAttempt,
} from "./fixtures/emulator";
import { OverviewPage, type BreakdownRow } from "./fixtures/overview_page";

/** The fee per successful verification the test dashboards apply: Twilio's list price. */
const VERIFICATION_FEE = 0.05;

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
  // Total cost: the channel fees (the API's prices) plus the list price's $0.05 per converted verification.
  const money = (text: string) => Number(text.replace(/[^0-9.]/g, ""));
  const fees = VERIFICATION_FEE * f.convertedVerifications;
  expect(money(await overview.kpi("spend"))).toBeCloseTo(f.spend + fees, 1);
  expect(money(await overview.kpi("channel-fees"))).toBeCloseTo(f.spend, 1);
  const feeLine = await overview.kpi("verification-fees");
  expect(feeLine).toContain(`(${formatCount(f.convertedVerifications)} successful)`);
  expect(money(feeLine.split("(")[0])).toBeCloseTo(fees, 1);
  if (f.convertedVerifications > 0) {
    const perSuccess = money(await overview.kpi("cost-per-conversion"));
    expect(Math.abs(perSuccess - (f.spend + fees) / f.convertedVerifications)).toBeLessThanOrEqual(0.005 + 1e-9);
  }
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
