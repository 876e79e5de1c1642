// The KPI tiles fill every row of their grid: no lone tile on a last row, at a desktop's
// width (three columns) or a phone's (two).
import { expect, test } from "./fixtures/test";
import { OverviewPage } from "./fixtures/overview_page";

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
