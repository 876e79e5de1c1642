// Annotations added by hand on /annotations appear under the overview's time chart for every
// range that covers them, as text, and on the chart the server draws; deleting one takes it away.
import { expect, test } from "./fixtures/test";
import { E2E } from "./fixtures/environment";

test("an annotation added on its page is listed under the time chart of a covering view, as text", async ({
  page,
  browser,
}) => {
  const day = new Date(Date.parse(E2E.pinnedNow) - 2 * 86_400_000).toISOString().slice(0, 10);
  const text = `New SMS template ${Date.now().toString(36)} <b>bold?</b>`;
  await page.goto("/annotations");
  await page.locator("#annotation-at").fill(day);
  await page.locator("#annotation-text").fill(text);
  await page.getByRole("button", { name: "Add annotation" }).click();
  await expect(page.getByTestId("annotation-row").filter({ hasText: text })).toHaveCount(1);

  await page.goto("/?range=7d");
  const listed = page.getByTestId("annotation").filter({ hasText: text });
  await expect(listed).toHaveCount(1);
  await expect(listed).toContainText(`${day} 00:00 UTC`);
  await expect(page.locator("#content b")).toHaveCount(0);

  // Before hydration, the chart the server drew marks it at its day, titled with its text.
  const context = await browser.newContext({ javaScriptEnabled: false });
  const bare = await context.newPage();
  await bare.goto("/?range=7d");
  const svg = bare.getByTestId("timeseries-svg");
  const mark = svg.locator("line.annotation").filter({ has: bare.locator("title", { hasText: text }) });
  await expect(mark).toHaveCount(1);
  const dayLabel = svg.locator("g.axes text", { hasText: new RegExp(`^${day.slice(5)}$`) });
  await expect(dayLabel).toHaveAttribute("x", (await mark.getAttribute("x1"))!);
  await context.close();

  await page.goto("/?range=24h");
  await expect(page.getByTestId("annotation").filter({ hasText: text })).toHaveCount(0);

  await page.goto("/annotations");
  await page.getByTestId("annotation-row").filter({ hasText: text }).getByRole("button", { name: "Delete" }).click();
  await expect(page.getByTestId("annotation-row").filter({ hasText: text })).toHaveCount(0);
});

test("a bad time is refused on the form and adds nothing", async ({ page }) => {
  await page.goto("/annotations");
  const before = await page.getByTestId("annotation-row").count();
  await page.locator("#annotation-at").fill("last tuesday");
  await page.locator("#annotation-text").fill("never saved");
  await page.getByRole("button", { name: "Add annotation" }).click();
  await expect(page.getByTestId("form-error")).toContainText("last tuesday");
  await expect(page.locator("#annotation-text")).toHaveValue("never saved");
  await expect(page.getByTestId("annotation-row")).toHaveCount(before);
});
