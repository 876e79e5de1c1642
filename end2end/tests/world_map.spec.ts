// The world map of conversion by country: loaded only when opened, each country's figure as
// the breakdown shows it, and a click on a country drills down into it.
import { expect, test } from "./fixtures/test";
import { OverviewPage } from "./fixtures/overview_page";

declare global {
  interface Window {
    echartsMap?: {
      getInstanceByDom(element: Element | null): {
        getOption(): { series: { data: { name: string; value: number | null }[] }[] };
        trigger(event: string, params: unknown): void;
      } | undefined;
    };
  }
}

test("the map loads when opened, shows each country's conversion as the breakdown does, and drills down", async ({
  page,
}) => {
  const requested: string[] = [];
  page.on("request", (request) => requested.push(new URL(request.url()).pathname));
  const overview = new OverviewPage(page);
  await overview.goto();
  const map = page.getByTestId("world-map");
  await expect(map).toBeVisible();
  expect(requested.filter((path) => /world\.json|echarts-map/.test(path)), "nothing of the map before it is opened").toEqual([]);

  await map.getByText("Map of conversion by country").click();
  await expect(map.locator("canvas")).toBeVisible();
  expect(requested).toContain("/world.json");
  expect(requested).toContain("/echarts-map.min.js");
  await page.waitForFunction(() => window.echartsMap?.getInstanceByDom(document.getElementById("world-map")) !== undefined);
  const data = await page.evaluate(
    () => window.echartsMap!.getInstanceByDom(document.getElementById("world-map"))!.getOption().series[0].data,
  );
  const rows = await overview.rows();
  const countries = rows.filter((row) => /^[A-Z]{2}$/.test(row.key));
  // ECharts lists every outline; those with a figure are the breakdown's countries, named as the page names them.
  const figures = new Map(
    data.filter((item) => typeof item.value === "number" && !Number.isNaN(item.value)).map((item) => [item.name, item.value]),
  );
  expect(figures.size).toBe(countries.length);
  for (const row of countries) {
    const named = [...figures.keys()].find((name) => name.endsWith(`(${row.key})`));
    expect(named, row.key).toBeDefined();
    expect(figures.get(named!), row.key).toBeCloseTo(Math.round((row.converted / row.attempts) * 1000) / 10, 5);
  }
  expect(figures.has("Colombia (CO)")).toBe(true);

  // A click on Colombia goes where its row's link goes.
  const href = await overview.rowLink("CO").getAttribute("href");
  await page.evaluate(() =>
    window.echartsMap!.getInstanceByDom(document.getElementById("world-map"))!.trigger("click", { name: "Colombia (CO)" }),
  );
  await expect(page).toHaveURL(new RegExp(`${href!.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`));
});
