// What a view is compared with (the previous period, 4 weeks earlier, a year earlier, days of
// the user's choosing, none), chosen by link or form, and the 12-month range as the snapshot holds it:
// the figures as the API counts them.
import { expect, test } from "./fixtures/test";
import { dayStart, figures, listAllAttempts } from "./fixtures/emulator";
import { OverviewPage, count } from "./fixtures/overview_page";

const compareNav = (overview: OverviewPage) => overview.page.getByRole("navigation", { name: "Compare with" });

/** The conversion change in points between the two windows the page names, as the API counts them. */
async function pointsFromTheApi(overview: OverviewPage): Promise<string> {
  const basis = overview.comparisonBasis;
  const window = async (which: "current" | "previous") =>
    figures(
      await listAllAttempts({
        DateCreatedAfter: (await basis.getAttribute(`data-${which}-start`))!,
        DateCreatedBefore: await overview.comparisonEnd(which),
      }),
    );
  const [now, then] = [await window("current"), await window("previous")];
  expect(now.attempts * then.attempts).toBeGreaterThan(0);
  const points = ((now.converted / now.attempts - then.converted / then.attempts) * 100).toFixed(1);
  return `${Number(points) >= 0 ? "+" : ""}${points} pts`;
}

test("4 weeks earlier compares the same weekdays, chosen from the keyboard, as the API counts", async ({ page }) => {
  const overview = new OverviewPage(page);
  await overview.goto("range=24h");
  const link = compareNav(overview).getByRole("link", { name: "4 weeks earlier" });
  await link.focus();
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/compare=4w/);
  await overview.waitForData();
  await expect(compareNav(overview).getByRole("link", { name: "4 weeks earlier" })).toHaveAttribute("aria-current", "true");
  const basis = overview.comparisonBasis;
  await expect(basis).toContainText("4 weeks earlier");
  const start = (which: string) => basis.getAttribute(`data-${which}-start`).then((t) => Date.parse(t!));
  expect((await start("current")) - (await start("previous"))).toBe(28 * 24 * 3600 * 1000);
  await expect(overview.conversionChange).toContainText(`${await pointsFromTheApi(overview)} vs the same`);
  await expect(overview.conversionChange).toContainText("4 weeks earlier");
});

test("days of the user's choosing are compared whole, as the API counts, and none turns the comparison off", async ({
  page,
}) => {
  const overview = new OverviewPage(page);
  await overview.goto("range=7d");
  await page.getByText("Other days…").click();
  const form = page.getByRole("form", { name: "Compare with days of your choosing" });
  await form.getByLabel("Compare with").fill(dayStart(-20).slice(0, 10));
  await form.getByLabel("to").fill(dayStart(-15).slice(0, 10));
  await form.getByRole("button", { name: "Compare" }).click();
  await expect(page).toHaveURL(new RegExp(`compare_from=${dayStart(-20).slice(0, 10)}&compare_to=${dayStart(-15).slice(0, 10)}`));
  await expect(page).toHaveURL(/range=7d/);
  await overview.waitForData();
  const basis = overview.comparisonBasis;
  await expect(basis).toContainText("the days you chose");
  await expect(basis).toHaveAttribute("data-previous-start", dayStart(-20));
  await expect(basis).toHaveAttribute("data-previous-end", dayStart(-14));
  await expect(overview.conversionChange).toContainText(await pointsFromTheApi(overview));
  // The form shows the days chosen, to change them.
  await expect(form.getByLabel("Compare with")).toHaveValue(dayStart(-20).slice(0, 10));

  await compareNav(overview).getByRole("link", { name: "None" }).click();
  await expect(page).toHaveURL(/compare=none/);
  await overview.waitForData();
  await expect(overview.comparisonBasis).toHaveCount(0);
  await expect(overview.conversionChange).toHaveCount(0);
});

test("12 months are charted from where the snapshot begins, every attempt once, and the page says what it cannot compare", async ({
  page,
}) => {
  const overview = new OverviewPage(page);
  await overview.goto();
  const range = page.getByTestId("range");
  const thirtyDays = (await range.getAttribute("data-start"))!;
  await page.getByRole("navigation", { name: "Date range" }).getByRole("link", { name: "12 months" }).click();
  await expect(page).toHaveURL(/range=12m/);
  // The 12 months are shown (a client-side navigation shows the last view until then).
  await expect(range).not.toHaveAttribute("data-start", thirtyDays);
  const table = await overview.chartTable(overview.timeseriesData);
  expect(table.rows.length).toBeGreaterThan(3);
  // The snapshot holds the API's 30 days: the chart shows them, by day, not eleven empty months.
  expect(table.rows.length).toBeLessThanOrEqual(31);
  for (const row of table.rows) expect(row[0]).toMatch(/^\d{4}-\d{2}-\d{2}( \(in progress\))?$/);
  const attempts = table.columns.indexOf("Attempts");
  const charted = table.rows.reduce((sum, row) => sum + count(row[attempts]), 0);
  expect(charted).toBe(await overview.totalAttempts());
  await expect(overview.comparisonNote).toContainText("does not reach back");
});
