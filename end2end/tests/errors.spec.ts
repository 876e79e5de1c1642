// What the dashboard answers to requests it cannot serve as asked: invalid parameters get a
// notice and the rest of the view; unknown attempts and paths get a real 404.
import { expect, test } from "./fixtures/test";
import { AttemptPage } from "./fixtures/attempt_page";
import { NotFoundPage } from "./fixtures/not_found_page";
import { OverviewPage } from "./fixtures/overview_page";

test("invalid parameters show a notice and the rest of the view", async ({ page }) => {
  const overview = new OverviewPage(page);
  const response = await overview.open("channel=fax&country=CO&range=forever&by=planet");
  expect(response?.status()).toBe(200);
  await expect(overview.notice).toContainText("fax");
  await expect(overview.notice).toContainText("forever");
  await expect(overview.notice).toContainText("planet");
  expect((await overview.rows()).map((r) => r.key)).toEqual(["CO"]);
});

test("an unknown attempt SID is a real 404 page", async ({ page }) => {
  const attempt = new AttemptPage(page);
  const notFound = new NotFoundPage(page);
  for (const sid of ["VL00000000000000000000000000000000", "not-a-sid"]) {
    const response = await attempt.goto(sid);
    expect(response?.status(), sid).toBe(404);
    await expect(notFound.heading).toBeVisible();
  }
  const missing = await notFound.goto("/no/such/page");
  expect(missing?.status()).toBe(404);
});
