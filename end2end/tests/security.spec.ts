import * as fs from "fs";
import type { Page } from "@playwright/test";
import { AttemptPage } from "./fixtures/attempt_page";
import { AttemptsPage } from "./fixtures/attempts_page";
import { E2E } from "./fixtures/environment";
import { OverviewPage } from "./fixtures/overview_page";
import { expect, test } from "./fixtures/test";

// The carriers the hostile emulator gives Colombia (brand and operator alike, so the name
// Twilio would show is the same for short brands).
const carriers: string[] = JSON.parse(fs.readFileSync(E2E.hostile.carriersFile, "utf8")).countries.CO.map(
  (c: { brand: string }) => c.brand,
);
const [script, breakout] = carriers;

test.use({ baseURL: E2E.hostile.dashboardUrl });

/** Dialogs the page opened (an injected `alert` would be one), dismissed as they come. */
function recordDialogs(page: Page): string[] {
  const dialogs: string[] = [];
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  return dialogs;
}

async function expectInert(page: Page, dialogs: string[]) {
  expect(dialogs, "dialogs opened").toEqual([]);
  expect(await page.evaluate(() => (window as { __xss?: unknown }).__xss), "window.__xss").toBeUndefined();
  expect(await page.locator('img[src="x"], [onerror]').count(), "injected elements").toBe(0);
}

async function expectBreakdownShowsCarriers(overview: OverviewPage) {
  const rows = await overview.rowKeysAndLabels();
  for (const name of carriers) expect(rows, name).toContainEqual([name, name]);
}

// Without the CSP's help too: it would block an inline script that escaping let through.
for (const bypassCSP of [false, true]) {
  test.describe(bypassCSP ? "with the CSP bypassed" : "under the page's CSP", () => {
    test.use({ bypassCSP });

    // Each view as the hydrated app renders it after a click, then as the server does on a reload.
    test("carrier names with markup are shown as text on the overview, the attempts and an attempt", async ({ page }) => {
      const dialogs = recordDialogs(page);
      const overview = new OverviewPage(page);
      const attemptsList = new AttemptsPage(page);
      const attempt = new AttemptPage(page);
      const hydratedOverview = async () => {
        await overview.goto("country=CO&by=carrier");
        await expect(overview.timeseriesCanvas().first()).toBeVisible();
      };
      await hydratedOverview();
      await expectBreakdownShowsCarriers(overview);
      await expectInert(page, dialogs);

      await overview.tableLink(script).click();
      await expect(overview.table).toHaveAttribute("data-by", "error");
      await expect(overview.breadcrumbs).toContainText(script);
      await expect(overview.chips).toContainText(`Carrier: ${script}`);
      await expectInert(page, dialogs);
      await page.reload({ waitUntil: "networkidle" });
      await expect(overview.breadcrumbs).toContainText(script);
      await expectInert(page, dialogs);

      await hydratedOverview();
      await overview.listAttempts.click();
      await expect(page).toHaveURL(/\/attempts\?country=CO/);
      await expect(attemptsList.rows.first()).toBeVisible();
      expect(await attemptsList.carriers()).toEqual(new Set(carriers));
      await expectInert(page, dialogs);
      await page.reload({ waitUntil: "networkidle" });
      expect(await attemptsList.carriers()).toEqual(new Set(carriers));
      await expectInert(page, dialogs);

      await attemptsList.attemptLink(attemptsList.rowsWithCarrier(script).first()).click();
      // The attempt's URL carries the list's view (its query).
      await expect(page).toHaveURL(/\/attempts\/VL\w+(\?[^#]*)?$/);
      await expect(attempt.field("Carrier")).toHaveText(script);
      await expectInert(page, dialogs);
      await page.reload({ waitUntil: "networkidle" });
      await expect(attempt.field("Carrier")).toHaveText(script);
      expect(await attempt.verificationCarriers()).toContain(script);
      await expectInert(page, dialogs);
    });

    test("markup in the URL is echoed as text", async ({ page }) => {
      const dialogs = recordDialogs(page);
      const overview = new OverviewPage(page);
      const attemptsList = new AttemptsPage(page);
      const channel = "<img src=x onerror=alert(1)>";
      await overview.open(`country=CO&channel=${encodeURIComponent(channel)}`, { waitUntil: "networkidle" });
      await expect(overview.notice).toContainText(`channel="${channel}"`);
      await expectInert(page, dialogs);
      await attemptsList.goto(`country=CO&carrier=${encodeURIComponent(breakout)}`, { waitUntil: "networkidle" });
      await expect(attemptsList.chips).toContainText(breakout);
      expect(await attemptsList.carriers()).toEqual(new Set([breakout]));
      await expectInert(page, dialogs);
    });
  });
}

/** RFC 4180: quoted fields may hold commas, doubled quotes and line breaks; rows end in CRLF. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
        if (![",", "\r", undefined].includes(text[i + 1])) throw new Error(`text after a closing quote at ${i}`);
      } else {
        cell += c;
      }
    } else if (c === '"') {
      if (cell !== "") throw new Error(`a quote inside an unquoted field at ${i}`);
      quoted = true;
    } else if (c === ",") {
      row.push(cell);
      cell = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      rows.push([...row, cell]);
      row = [];
      cell = "";
      i++;
    } else {
      cell += c;
    }
  }
  if (quoted) throw new Error("an unterminated quoted field");
  if (cell !== "" || row.length > 0) rows.push([...row, cell]);
  return rows;
}

/** The column `name` of a CSV, and every cell a spreadsheet would read as a formula. */
async function exportedColumn(page: Page, href: string, name: string) {
  const response = await page.request.get(href);
  expect(response.headers()["content-type"]).toContain("text/csv");
  const [header, ...rows] = parseCsv(await response.text());
  expect(rows.length).toBeGreaterThan(0);
  for (const row of rows) expect(row.length, row.join(",")).toBe(header.length);
  const formulas = [header, ...rows].flat().filter((cell) => /^[=+\-@\t\r]/.test(cell));
  return { column: rows.map((row) => row[header.indexOf(name)]), formulas };
}

test("CSV exports of hostile carrier names are quoted and never formulas", async ({ page }) => {
  const exported = (name: string) => (/^[=+\-@]/.test(name) ? `'${name}` : name);
  const overview = new OverviewPage(page);
  const attemptsList = new AttemptsPage(page);
  await overview.goto("country=CO&by=carrier");
  const breakdown = await exportedColumn(page, (await overview.exportCsvHref())!, "carrier");
  expect(breakdown.formulas).toEqual([]);
  expect(new Set(breakdown.column)).toEqual(new Set([...carriers.map(exported), ""]));

  await overview.listAttempts.click();
  await expect(attemptsList.rows.first()).toBeVisible();
  const href = await attemptsList.exportCsvHref();
  expect(href).toMatch(/^\/attempts\.csv\?country=CO/);
  // Every attempt of the view, those without a carrier too, as the breakdown counts them.
  const attempts = await exportedColumn(page, href!, "carrier");
  expect(attempts.formulas).toEqual([]);
  expect(new Set(attempts.column)).toEqual(new Set(breakdown.column));
});
