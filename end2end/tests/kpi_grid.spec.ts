// The KPI tiles fill every row of their grid: no lone tile on a last row, at a desktop's
// width (three columns) or a phone's (two).
import { expect, test } from "./fixtures/test";
import { OverviewPage } from "./fixtures/overview_page";
import { attemptsSince, countsByPeriod, dayStart, defaultRangeStart } from "./fixtures/emulator";

for (const [width, columns] of [
  [1280, 3],
  [390, 2],
] as const) {
  test.describe(`at ${width} px`, () => {
    test.use({ viewport: { width, height: 900 } });

    test(`the KPI tiles fill each row of ${columns} columns`, async ({ page }) => {
      const overview = new OverviewPage(page);
      await overview.goto();
      const grid = (await overview.kpiGrid().boundingBox())!;
      const tiles = await overview.kpiTiles().evaluateAll((elements) =>
        elements.map((e) => {
          const r = e.getBoundingClientRect();
          return { top: Math.round(r.top), left: r.left, right: r.right };
        }),
      );
      expect(tiles.length).toBeGreaterThan(columns);
      const rows = new Map<number, { left: number; right: number }[]>();
      for (const tile of tiles) rows.set(tile.top, [...(rows.get(tile.top) ?? []), tile]);
      expect(rows.size, "rows of tiles").toBe(Math.ceil(tiles.length / columns));
      for (const [top, row] of rows) {
        expect(row.length, `tiles on the row at ${top}`).toBeLessThanOrEqual(columns);
        expect(Math.min(...row.map((t) => t.left)), `the row at ${top} starts at the grid's left`).toBeCloseTo(grid.x, 0);
        expect(Math.max(...row.map((t) => t.right)), `the row at ${top} ends at the grid's right`).toBeCloseTo(grid.x + grid.width, 0);
      }
    });
  });
}

test("each KPI tile read per period has a trend line over the view's settled days, its ends as the API counts them", async ({ page }) => {
  const overview = new OverviewPage(page);
  await overview.goto();
  const tiles = await overview.kpiTiles().count();
  // The spend on verifications that never converted is read for the whole view only.
  await expect(overview.kpiTrends()).toHaveCount(tiles - 1);
  const points = await overview.kpiTrends().evaluateAll((lines) => lines.map((l) => l.getAttribute("data-points")));
  expect(new Set(points).size, `every line has the same periods: ${points}`).toBe(1);
  const days = Number(points[0]);
  expect(days, "the 30 days of the view, the last ones perhaps not settled yet").toBeGreaterThanOrEqual(28);
  expect(days).toBeLessThanOrEqual(30);
  const perDay = countsByPeriod(await attemptsSince(defaultRangeStart()), false);
  const first = perDay.get(defaultRangeStart().slice(0, 10))!.attempts;
  const last = perDay.get(dayStart(-30 + days).slice(0, 10))!.attempts;
  await expect(overview.kpiTrend("Attempts")).toHaveAttribute(
    "aria-label",
    `Attempts by day, ${days} periods: ${first} in the first, ${last} in the last`,
  );
});
