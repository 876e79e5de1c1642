// Screenshots for review, at a laptop's width (1280 px) and a phone's (390 px): the overview,
// an attempts list and one attempt opened from it, saved in screenshots/.
import { expect, test } from "./fixtures/test";
import { attemptsInDefaultRange, figuresBy } from "./fixtures/emulator";
import { AttemptPage } from "./fixtures/attempt_page";
import { AttemptsPage } from "./fixtures/attempts_page";
import { OverviewPage } from "./fixtures/overview_page";

for (const [width, height] of [
  [1280, 900],
  [390, 844],
]) {
  test(`screenshots of the overview, the attempts list and an attempt at ${width} px`, async ({ page }) => {
    await page.setViewportSize({ width, height });
    const overview = new OverviewPage(page);
    await overview.goto();
    await expect(overview.timeseriesCanvas().first()).toBeVisible();
    await expect(overview.chartCanvas().first()).toBeVisible();
    await page.screenshot({ path: `screenshots/overview-${width}.png`, fullPage: true });

    // A market's evidence: its channels, the move "What to do" recommends with its arithmetic, its retries.
    await overview.goto("country=CO&by=channel");
    await expect(page.getByTestId("arithmetic").first()).toBeVisible();
    await page.getByTestId("what-to-do").screenshot({ path: `screenshots/what-to-do-${width}.png` });
    await page.getByTestId("funnel").screenshot({ path: `screenshots/retries-${width}.png` });

    const attemptsList = new AttemptsPage(page);
    await attemptsList.goto("country=CO&channel=sms");
    const row = attemptsList.rows.first();
    await expect(row).toBeVisible();
    await page.screenshot({ path: `screenshots/attempts-${width}.png`, fullPage: true });

    // An attempt with an error code whose verification had several attempts, opened from the list.
    const attempt = new AttemptPage(page);
    const sms = await attemptsInDefaultRange({ Country: "CO", Channel: "sms" });
    const tries = figuresBy(sms, (a) => a.verification_sid);
    const shown = sms.find((a) => a.channel_data?.error_code && tries.get(a.verification_sid)!.attempts >= 3) ?? sms[0];
    await attempt.goto(shown.sid, "country=CO&channel=sms");
    await expect(attempt.sid).toHaveText(shown.sid);
    await expect(attempt.verificationTable).toBeVisible();
    await page.screenshot({ path: `screenshots/attempt-${width}.png`, fullPage: true });
  });
}
