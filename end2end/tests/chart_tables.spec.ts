// Each chart's data as a table under it, its text alternative: server-rendered, so there
// without JavaScript, and saying what the KPIs and the breakdown say.
import { expect, test } from "./fixtures/test";
import { attemptsInDefaultRange, formatCount } from "./fixtures/emulator";
import { count, OverviewPage } from "./fixtures/overview_page";

for (const [query, params] of [
  ["", {}],
  ["channel=sms&by=carrier", { Channel: "sms" }],
] as const) {
  test(`without JavaScript, /?${query} has its charts' data as tables that agree with the KPIs and the breakdown`, async ({
    browser,
  }) => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const overview = new OverviewPage(await context.newPage());
    await overview.goto(query);
    await expect(overview.timeseriesCanvas()).toHaveCount(0);
    for (const data of [overview.timeseriesData, overview.rateData]) {
      await expect(data.locator("summary")).toHaveText("The data as a table");
    }

    // The time chart: a period a row, whose attempts add up to the view's.
    const time = await overview.chartTable(overview.timeseriesData);
    expect(time.columns[0]).toBe("Period");
    expect(time.columns.slice(-2)).toEqual(["Attempts", "Conversion rate"]);
    const attempts = OverviewPage.column(time, "Attempts").map(count);
    const total = attempts.reduce((sum, n) => sum + n, 0);
    const api = await attemptsInDefaultRange(params);
    expect(total, "the table's attempts").toBe(api.length);
    await expect(overview.kpiValue("attempts")).toHaveText(formatCount(total));
    // Each period's channels add up to its attempts.
    const channels = time.columns.filter((c) => c.endsWith(" attempts"));
    time.rows.forEach((row, i) => {
      const perChannel = channels.map((c) => count(row[time.columns.indexOf(c)]));
      expect(perChannel.reduce((sum, n) => sum + n, 0), row[0]).toBe(attempts[i]);
    });

    // The time chart itself, drawn by the server: a bar per channel and period with attempts.
    const svg = overview.page.getByTestId("timeseries-svg");
    await expect(svg).toBeVisible();
    await expect(svg.locator("#timeseries-svg-title")).toHaveText("Attempts per channel and the conversion rate over time");
    const cells = time.rows.flatMap((row) => channels.map((c) => count(row[time.columns.indexOf(c)]))).filter((n) => n > 0);
    await expect(svg.locator("g.bars rect")).toHaveCount(cells.length);
    await expect(svg.locator("desc")).toContainText(`${formatCount(total)} attempts in ${time.rows.length} days`);

    // The rate chart: the breakdown's first 20 rows, with the same labels, rates and attempts.
    const rates = await overview.chartTable(overview.rateData);
    expect(rates.columns.slice(1)).toEqual(["Conversion rate", "95% interval", "Attempts"]);
    const links = await overview.rowLinks();
    const rows = await overview.rows();
    expect(rows.length).toBeGreaterThan(1);
    const expected = rows.slice(0, 20).map((row, i) => [links[i].label, row.rate, formatCount(row.attempts)]);
    expect(rates.rows.map(([label, rate, , attempts]) => [label, rate, attempts])).toEqual(expected);
    // The rate chart itself, drawn by the server: a bar a row, each named with its rate.
    const rateSvg = overview.page.getByTestId("rate-svg");
    await expect(rateSvg.locator("g.bars rect")).toHaveCount(expected.length);
    const described = rows.slice(0, 20).map((row) => row.rate);
    for (const rate of described) await expect(rateSvg.locator("desc")).toContainText(rate);
    await context.close();
  });
}
