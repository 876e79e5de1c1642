// What the overview's charts draw: a channel in one colour on every view, no rate for
// periods with too few attempts (and a note saying so), and a rate chart that follows the
// breakdown and whose bars drill down like the table's rows.
import { expect, test } from "./fixtures/test";
import {
  attemptsInDefaultRange,
  attemptsSince,
  countsByPeriod,
  dayStart,
  defaultRangeStart,
  formatCount,
  hourStart,
  listAllAttempts,
  percent,
  type ApiAttempt,
} from "./fixtures/emulator";
import { OverviewPage } from "./fixtures/overview_page";

const channelLabels: Record<string, string> = { call: "Call", email: "Email", sms: "SMS", whatsapp: "WhatsApp" };

/** The labels of the channels `attempts` were sent on, in the chart's order. */
const channelsOf = (attempts: ApiAttempt[]) => [...new Set(attempts.map((a) => a.channel))].sort().map((c) => channelLabels[c] ?? c);

test("a channel's bars have one colour on every view, whichever channels the view holds", async ({ page }) => {
  const overview = new OverviewPage(page);
  const all = await attemptsInDefaultRange();
  const channelViews: [string, ApiAttempt[]][] = [
    ["", all],
    ["channel=sms", all.filter((a) => a.channel === "sms")],
    ["channel=whatsapp&channel=sms", all.filter((a) => a.channel === "whatsapp" || a.channel === "sms")],
  ];
  const smsColours: (string | undefined)[] = [];
  for (const [query, attempts] of channelViews) {
    await overview.goto(query);
    await expect(overview.timeseriesCanvas().first()).toBeVisible();
    // ECharts has taken over from the server's drawings, which no longer show.
    await expect(page.getByTestId("timeseries-svg")).toBeHidden();
    await expect(overview.chartCanvas().first()).toBeVisible();
    await expect(page.getByTestId("rate-svg")).toBeHidden();
    const bars = (await overview.timeseriesSeries()).filter((s) => s.type === "bar");
    expect(bars.map((s) => s.name), `the bars of /?${query}`).toEqual(channelsOf(attempts));
    const sms = bars.find((s) => s.name === "SMS")!.color;
    expect(sms, `SMS's colour on /?${query}`).toMatch(/^#[0-9a-f]{6}$/i);
    smsColours.push(sms);
    const whatsapp = bars.find((s) => s.name === "WhatsApp")?.color;
    if (whatsapp !== undefined) expect(whatsapp, `WhatsApp's colour on /?${query}`).not.toBe(sms);
    // A channel's own rate line, where there is one, is drawn in its colour too.
    const smsLine = await overview.timeseriesColor("SMS conversion %");
    if (smsLine !== undefined) expect(smsLine).toBe(sms);
  }
  expect(new Set(smsColours).size, `SMS's colours: ${smsColours.join(", ")}`).toBe(1);
});

test("the per-channel rate lines are off until the legend turns them on", async ({ page }) => {
  const overview = new OverviewPage(page);
  await overview.goto();
  await expect(overview.timeseriesCanvas().first()).toBeVisible();
  const channels = channelsOf(await attemptsInDefaultRange());
  expect(channels.length).toBeGreaterThan(1);
  const on = Object.fromEntries([...channels, "conversion %"].map((name) => [name, true]));
  const off = Object.fromEntries(channels.map((channel) => [`${channel} conversion %`, false]));
  expect(await overview.timeseriesLegendSelection()).toEqual({ ...on, ...off });
});

// Views whose periods (hours for 24h, days otherwise) may hold a handful of attempts as well
// as enough for a rate; the emulator's traffic follows the clock, so the API says which do.
interface View {
  query: string;
  params: Record<string, string>;
  start: string;
  /** The end of the view's days (exclusive), when they end before the snapshot does. */
  end?: string;
  hourly: boolean;
}

function views(): View[] {
  const day = (start: string) => start.slice(0, 10);
  const last24h = (query: string, params: Record<string, string>) => ({ query, params, start: hourStart(-23), hourly: true });
  const last7d = (query: string, params: Record<string, string>) => ({ query, params, start: dayStart(-6), hourly: false });
  return [
    last24h("range=24h&channel=sms", { Channel: "sms" }),
    last24h("range=24h&country=US", { Country: "US" }),
    last24h("range=24h", {}),
    last24h("range=24h&channel=whatsapp", { Channel: "whatsapp" }),
    last24h("range=24h&country=IN", { Country: "IN" }),
    last7d("range=7d&country=CO", { Country: "CO" }),
    last7d("range=7d&country=MX", { Country: "MX" }),
    // Whole days of all the traffic, hundreds of attempts each.
    { query: "", params: {}, start: defaultRangeStart(), hourly: false },
    { query: `from=${day(dayStart(-29))}&to=${day(dayStart(-1))}`, params: {}, start: dayStart(-29), end: dayStart(0), hourly: false },
  ];
}

/** Attempts and converted attempts per period of a view, from the API. */
async function periodsOf(view: View) {
  const attempts = view.end
    ? await listAllAttempts({ DateCreatedAfter: view.start, DateCreatedBefore: view.end, ...view.params })
    : await attemptsSince(view.start, view.params);
  return countsByPeriod(attempts, view.hourly);
}

const tooFew = (attempts: number) => attempts >= 1 && attempts < 20;

test("periods with fewer than 20 attempts have no rate, and a note and the chart's table say so", async ({ page }) => {
  const overview = new OverviewPage(page);
  let view: { query: string; periods: Awaited<ReturnType<typeof periodsOf>> } | undefined;
  for (const candidate of views()) {
    const periods = await periodsOf(candidate);
    const sizes = [...periods.values()].map((p) => p.attempts);
    if (sizes.some(tooFew) && sizes.some((n) => n >= 20)) {
      view = { query: candidate.query, periods };
      break;
    }
  }
  expect(view, "a view with periods of 1–19 attempts and of 20 or more").toBeDefined();
  const { query, periods } = view!;
  test.info().annotations.push({ type: "view", description: `/?${query}` });

  await overview.goto(query);
  await expect(overview.tooFewNote).toBeVisible();
  await expect(overview.tooFewNote).toContainText("fewer than 20 attempts");
  const table = await overview.chartTable(overview.timeseriesData);
  const attempts = OverviewPage.column(table, "Attempts");
  const rates = OverviewPage.column(table, "Conversion rate");
  const rows = table.rows.map((row, i) => ({ period: row[0].replace(/ \(in progress\)$/, ""), attempts: attempts[i], rate: rates[i] }));
  expect(rows.map((r) => r.period)).toEqual(expect.arrayContaining([...periods.keys()]));
  await expect(overview.timeseriesCanvas().first()).toBeVisible();
  const line = (await overview.timeseriesSeries()).find((s) => s.name === "conversion %")!;
  expect(line.data.length, "the rate line has a point per row of the table").toBe(rows.length);
  rows.forEach((row, i) => {
    const counts = periods.get(row.period) ?? { attempts: 0, converted: 0 };
    expect(row.attempts, `attempts in ${row.period}`).toBe(formatCount(counts.attempts));
    if (counts.attempts === 0) {
      expect(row.rate, row.period).toBe("no attempts");
      expect(line.data[i], `the chart's rate in ${row.period}`).toBeNull();
    } else if (tooFew(counts.attempts)) {
      expect(row.rate, row.period).toBe("too few to judge");
      expect(line.data[i], `the chart's rate in ${row.period}`).toBeNull();
    } else {
      expect(row.rate, row.period).toBe(percent(counts.converted, counts.attempts));
      expect(`${line.data[i]?.toFixed(1)}%`, `the chart's rate in ${row.period}`).toBe(row.rate);
    }
  });
});

test("the too-few note shows exactly when some period has 1 to 19 attempts", async ({ page }) => {
  const overview = new OverviewPage(page);
  const shown: boolean[] = [];
  for (const view of views()) {
    const query = view.query;
    const expected = [...(await periodsOf(view)).values()].some((p) => tooFew(p.attempts));
    await overview.goto(query);
    if (expected) await expect(overview.tooFewNote, `/?${query}`).toBeVisible();
    else await expect(overview.tooFewNote, `/?${query}`).toHaveCount(0);
    const rates = OverviewPage.column(await overview.chartTable(overview.timeseriesData), "Conversion rate");
    expect(rates.includes("too few to judge"), `/?${query}`).toBe(expected);
    shown.push(expected);
  }
  expect(shown, "views with the note and views without").toEqual(expect.arrayContaining([true, false]));
});

test("the rate chart follows any breakdown but days, when it has two rows or more", async ({ page }) => {
  const overview = new OverviewPage(page);
  for (const [query, dimension] of [
    ["", "country"],
    ["by=channel", "channel"],
    ["country=US&by=carrier", "carrier"],
    ["by=service", "service"],
    ["by=error", "error code"],
    ["by=day", "day"],
    ["country=CO", "country"],
  ]) {
    await overview.goto(query);
    const rows = await overview.rowLinks();
    if (dimension === "day" || rows.length < 2) {
      await expect(overview.chart, `/?${query}`).toHaveCount(0);
      await expect(overview.rateData, `/?${query}`).toHaveCount(0);
      continue;
    }
    await expect(overview.chart, `/?${query}`).toHaveAttribute("aria-label", new RegExp(`^Attempt conversion rate by ${dimension} `));
    await expect(overview.chartCanvas().first()).toBeVisible();
    // The breakdown's first 20 rows, in its order, by the labels of its links (countries by
    // their codes, where names would not fit under the bars; the tooltips name them).
    const expected = rows.slice(0, 20).map((r) => (dimension === "country" && r.key ? r.key : r.label));
    expect(await overview.rateChartCategories(), `/?${query}`).toEqual(expected);
  }
});

test("clicking a bar of the rate chart goes where its row's link in the breakdown goes", async ({ page }) => {
  const overview = new OverviewPage(page);
  // The first bar of the countries leads to that country's carriers.
  await overview.goto();
  await expect(overview.chartCanvas().first()).toBeVisible();
  const countries = await overview.rowLinks();
  const countryBars = await overview.rateChartCategories();
  await overview.clickRateBar(0);
  await expect(page).toHaveURL(new RegExp(`/\\?country=${countries[0].key}&by=carrier$`));
  await expect(overview.table).toHaveAttribute("data-by", "carrier");
  // The chart drawn after that client-side navigation answers clicks with its own rows.
  await expect.poll(async () => overview.rateChartCategories()).not.toEqual(countryBars);
  const carriers = await overview.rowLinks();
  const first = new URL(carriers[0].href, page.url()).href;
  await overview.clickRateBar(0);
  await expect(page).toHaveURL(first);

  // The last bar of a country's carriers, and the last of a carrier's error codes, which
  // leads to the attempts themselves (attempts with an error code never convert: their bars
  // have no height to click, and the last is that of no error).
  for (const query of ["country=US&by=carrier", "country=US&carrier=AT%26T&by=error"]) {
    await overview.goto(query);
    await expect(overview.chartCanvas().first()).toBeVisible();
    const rows = await overview.rowLinks();
    const bars = (await overview.rateChartBars()).data;
    expect(bars.length).toBe(Math.min(rows.length, 20));
    const index = bars.map((rate) => (rate ?? 0) > 0).lastIndexOf(true);
    expect(index, `a bar with a height on /?${query}`).toBeGreaterThanOrEqual(0);
    const target = new URL(rows[index].href, page.url()).href;
    await overview.clickRateBar(index);
    await expect(page, `the bar of ${rows[index].label} on /?${query}`).toHaveURL(target);
  }
  await expect(page).toHaveURL(/\/attempts\?country=US&carrier=AT%26T&error=/);
});
