import { expect, test } from "./fixtures/test";
import { attemptsInDefaultRange, byCarrier, byError, figuresBy, percent } from "./fixtures/emulator";
import { OverviewPage } from "./fixtures/overview_page";

test("drill down from a country to a carrier, an error code, the attempts and one attempt", async ({ page }) => {
  const overview = new OverviewPage(page);
  await overview.goto();

  await overview.rowLink("CO").click();
  await expect(page).toHaveURL(/\/\?country=CO&by=carrier$/);
  await expect(page.getByTestId("breakdown-table")).toHaveAttribute("data-by", "carrier");
  const colombia = await attemptsInDefaultRange({ Country: "CO" });
  const carriers = figuresBy(colombia, byCarrier);
  const rows = await overview.rows();
  expect(rows.length).toBe(carriers.size);
  for (const row of rows) {
    expect(row.attempts, row.key).toBe(carriers.get(row.key)?.attempts);
    expect(row.rate, row.key).toBe(percent(carriers.get(row.key)!.converted, carriers.get(row.key)!.attempts));
  }
  await expect(page.getByTestId("breadcrumbs")).toContainText("CO");

  const carrier = rows.find((r) => r.key !== "")!.key;
  await overview.rowLink(carrier).click();
  await expect(page).toHaveURL(new RegExp(`country=CO&carrier=${encodeURIComponent(carrier)}&by=error`));
  await expect(page.getByTestId("breakdown-table")).toHaveAttribute("data-by", "error");
  const errors = figuresBy(
    colombia.filter((a) => a.channel_data?.carrier === carrier),
    byError,
  );
  expect((await overview.rows()).map((r) => r.key).sort()).toEqual([...errors.keys()].sort());
  await page.screenshot({ path: "screenshots/drilldown.png", fullPage: true });

  const errorKey = (await overview.rows())[0].key;
  await overview.rowLink(errorKey).click();
  await expect(page).toHaveURL(/\/attempts\?country=CO&carrier=.*&error=/);
  const firstAttempt = page.getByTestId("attempt-row").first();
  await expect(firstAttempt).toBeVisible();
  await expect(firstAttempt.getByTestId("to")).toContainText("•••");
  const sid = await firstAttempt.getAttribute("data-sid");
  await firstAttempt.getByRole("link").first().click();
  await expect(page).toHaveURL(new RegExp(`/attempts/${sid}$`));
  await expect(page.getByTestId("attempt-sid")).toHaveText(sid!);
  await expect(page.getByTestId("attempt-fields")).toContainText("CO");

  await page.goBack();
  await expect(page).toHaveURL(/\/attempts\?/);
  await page.goBack();
  await expect(page).toHaveURL(/by=error/);
});

test("a copied link opened in a fresh browser shows the same numbers", async ({ page, browser }) => {
  const overview = new OverviewPage(page);
  await overview.goto("range=7d&channel=sms&by=carrier");
  const permalink = await page.getByTestId("permalink").getAttribute("href");
  expect(permalink).toMatch(/from=\d{4}-\d{2}-\d{2}&to=\d{4}-\d{2}-\d{2}/);
  const rows = await overview.rows();
  const context = await browser.newContext();
  const fresh = new OverviewPage(await context.newPage());
  await fresh.goto(permalink!.replace(/^\/\?/, ""));
  expect(await fresh.rows()).toEqual(rows);
  await context.close();
});

test("Export CSV returns the rows of the table on screen", async ({ page }) => {
  const overview = new OverviewPage(page);
  await overview.goto("channel=sms&by=carrier&sort=rate");
  const href = await page.getByTestId("export-csv").getAttribute("href");
  const response = await page.request.get(href!);
  expect(response.headers()["content-type"]).toContain("text/csv");
  const [header, ...lines] = (await response.text()).trim().split("\r\n");
  expect(header).toBe(
    "carrier,attempts,converted_attempts,attempt_conversion_rate,verifications,verification_conversion_rate,spend,currency",
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
  });
  const bad = await page.request.get("/export.csv?channel=fax");
  expect(bad.status()).toBe(400);
  expect(await bad.text()).toContain("fax");
});

test("the attempts list pages through older attempts without repeats", async ({ page }) => {
  await page.goto("/attempts?country=MX");
  const first = await page.getByTestId("attempt-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-sid")));
  expect(first.length).toBe(50);
  await page.getByTestId("older").click();
  await expect(page).toHaveURL(/page=/);
  await expect(page.getByTestId("attempt-row").first()).not.toHaveAttribute("data-sid", first[0]!);
  const second = await page.getByTestId("attempt-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-sid")));
  expect(second.length).toBeGreaterThan(0);
  expect(second.filter((sid) => first.includes(sid))).toEqual([]);
  const mexico = await attemptsInDefaultRange({ Country: "MX" });
  expect(first.concat(second)).toEqual(mexico.slice(0, first.length + second.length).map((a) => a.sid));
});

test("an unknown attempt SID is a real 404 page", async ({ page }) => {
  for (const sid of ["VL00000000000000000000000000000000", "not-a-sid"]) {
    const response = await page.goto(`/attempts/${sid}`);
    expect(response?.status(), sid).toBe(404);
    await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
  }
  const missing = await page.goto("/no/such/page");
  expect(missing?.status()).toBe(404);
});

test("the emulator's incidents are found and link to the views that show them", async ({ page }) => {
  await page.goto("/");
  const anomalies = page.getByTestId("anomalies");
  const pumping = anomalies.locator('li[data-kind="sms-pumping"]');
  await expect(pumping).toHaveCount(1);
  await expect(pumping).toContainText("Possible SMS pumping to ID");
  const outage = anomalies.locator('li[data-kind="carrier-outage"]');
  await expect(outage.filter({ hasText: "AT&T (US) stopped delivering" })).toHaveCount(1);

  await pumping.getByRole("link").click();
  await expect(page).toHaveURL(/\/attempts\?from=.*&country=ID&channel=sms&status=unconverted/);
  const rows = page.getByTestId("attempt-row");
  await expect(rows.first()).toBeVisible();
  expect(await rows.count()).toBe(50);

  await page.goto("/");
  await outage.filter({ hasText: "AT&T" }).getByRole("link").click();
  await expect(page).toHaveURL(/country=US&carrier=AT%26T&by=error/);
  await expect(page.locator('[data-testid="breakdown-row"][data-key="30008"]')).toHaveCount(1);
  // Error codes carry their title from Twilio's error dictionary.
  await expect(page.locator('[data-testid="breakdown-row"][data-key="30008"] th a')).toHaveText("30008 Unknown error");
});
