// The breakdown's CSV export: the rows of the table on screen, and a 400 for a bad view.
// (Hostile carrier names in CSV are in security.spec.ts.)
import { expect, test } from "./fixtures/test";
import { OverviewPage } from "./fixtures/overview_page";

test("Export CSV returns the rows of the table on screen", async ({ page }) => {
  const overview = new OverviewPage(page);
  await overview.goto("channel=sms&by=carrier&sort=rate");
  const href = await overview.exportCsvHref();
  const response = await page.request.get(href!);
  expect(response.headers()["content-type"]).toContain("text/csv");
  const [header, ...lines] = (await response.text()).trim().split("\r\n");
  expect(header).toBe(
    "carrier,attempts,converted_attempts,attempt_conversion_rate,verifications,verification_conversion_rate," +
      "delivery_rate,currency,channel_fees,verification_fees,total_cost,cost_per_successful_verification," +
      "spend_on_verifications_never_converted,unpriced_attempts",
  );
  const rows = await overview.rows();
  expect(lines.length).toBe(rows.length);
  lines.forEach((line, i) => {
    const cells = line.match(/("([^"]|"")*"|[^,]*)(,|$)/g)!.map((c) => c.replace(/,$/, "").replace(/^"|"$/g, ""));
    expect(cells[0].replace(/^'/, "")).toBe(rows[i].key);
    expect(Number(cells[1])).toBe(rows[i].attempts);
    expect(Number(cells[2])).toBe(rows[i].converted);
    expect(Number(cells[3])).toBeCloseTo((rows[i].converted * 100) / rows[i].attempts, 2);
    expect(Number(cells[4])).toBe(rows[i].verifications);
    // The page shows one decimal: the CSV's exact rate is within half of that place of it.
    expect(Math.abs(Number(cells[5]) - parseFloat(rows[i].verificationRate))).toBeLessThanOrEqual(0.05 + 1e-9);
    // Money per currency: total cost = channel fees + verification fees; per success = total ÷ converted verifications.
    if (cells[7] !== "") {
      expect(cells[7]).toBe("USD");
      const [channel, fees, total] = [cells[8], cells[9], cells[10]].map(Number);
      expect(total).toBeCloseTo(channel + fees, 6);
      const converted = Math.round(fees / 0.05);
      if (converted > 0) expect(Number(cells[11])).toBeCloseTo(total / converted, 5);
    }
  });
  const bad = await page.request.get("/export.csv?channel=fax");
  expect(bad.status()).toBe(400);
  expect(await bad.text()).toContain("fax");
});
