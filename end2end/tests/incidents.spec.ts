// The incidents the overview finds in the data (the emulator's SMS pumping and carrier
// outage), each linking to the view that shows it.
import { expect, test } from "./fixtures/test";
import { AttemptsPage } from "./fixtures/attempts_page";
import { OverviewPage } from "./fixtures/overview_page";

test("the emulator's incidents are found and link to the views that show them", async ({ page }) => {
  const overview = new OverviewPage(page);
  const attemptsList = new AttemptsPage(page);
  await overview.goto();
  const pumping = overview.anomaly("sms-pumping");
  await expect(pumping).toHaveCount(1);
  await expect(pumping).toContainText("Possible SMS pumping to ID");
  await expect(overview.anomaly("carrier-outage", "AT&T (US) stopped delivering")).toHaveCount(1);

  await overview.anomalyLink("sms-pumping").click();
  await expect(page).toHaveURL(/\/attempts\?from=.*&country=ID&channel=sms&status=unconverted/);
  await expect(attemptsList.rows.first()).toBeVisible();
  expect(await attemptsList.rows.count()).toBe(50);

  await overview.goto();
  await overview.anomalyLink("carrier-outage", "AT&T").click();
  await expect(page).toHaveURL(/country=US&carrier=AT%26T&by=error/);
  await expect(overview.row("30008")).toHaveCount(1);
  // Error codes carry their title from Twilio's error dictionary.
  await expect(overview.rowLabel("30008")).toHaveText("30008 Unknown error");
});
