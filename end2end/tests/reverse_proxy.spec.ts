// Behind a reverse proxy (nginx, tests/fixtures/nginx.ts), at the root of its host and at a
// sub-path, `/verilens/`, where the dashboard runs with `--base-path /verilens`: the same
// walk from the overview to one attempt, hydrated, with every link, server function, export
// and request staying under the base path.
import * as fs from "fs";
import type { Page } from "@playwright/test";
import { expect, test } from "./fixtures/test";
import { E2E } from "./fixtures/environment";
import { AttemptPage } from "./fixtures/attempt_page";
import { AttemptsPage } from "./fixtures/attempts_page";
import { OverviewPage } from "./fixtures/overview_page";

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

interface Proxied {
  name: string;
  /** Where the dashboard is, through nginx: `http://host:port` or `http://host:port/verilens`. */
  base: string;
  /** The path part of `base`: "" at the root. */
  basePath: string;
}

const proxies: Proxied[] = [
  { name: "at the root of its host (/)", base: E2E.proxy.rootUrl, basePath: "" },
  { name: "at a sub-path (/verilens/)", base: E2E.proxy.subPathUrl, basePath: E2E.proxy.basePath },
];

/** The site-relative URLs of the page (links, forms, styles, scripts, images) that are not under `basePath`. */
async function urlsOutside(page: Page, basePath: string): Promise<string[]> {
  const urls = await page.evaluate(() =>
    [
      ...[...document.querySelectorAll("a[href], link[href]")].map((e) => e.getAttribute("href")!),
      ...[...document.querySelectorAll("form[action]")].map((e) => e.getAttribute("action")!),
      ...[...document.querySelectorAll("script[src], img[src]")].map((e) => e.getAttribute("src")!),
    ].filter((url) => url.startsWith("/") && !url.startsWith("//")),
  );
  expect(urls.length, `site-relative URLs on ${page.url()}`).toBeGreaterThan(0);
  return urls.filter((url) => !url.startsWith(`${basePath}/`));
}

for (const { name, base, basePath } of proxies) {
  test(`through nginx ${name}: the overview, a drill-down, its CSV, the attempts and an attempt`, async ({ page }) => {
    const origin = new URL(base).origin;
    const under = new RegExp(`^${escapeRegExp(base)}/`);
    const failed: string[] = [];
    const requested: string[] = [];
    page.on("response", (response) => {
      if (response.status() >= 400) failed.push(`${response.status()} ${response.url()}`);
    });
    page.on("request", (request) => requested.push(request.url()));
    const overview = new OverviewPage(page);
    const attemptsList = new AttemptsPage(page);
    const attempt = new AttemptPage(page);

    const response = await page.goto(`${base}/?range=30d`);
    expect(response?.status()).toBe(200);
    await overview.waitForData();
    expect(await overview.totalAttempts()).toBeGreaterThan(0);
    await expect(overview.kpiValue("conversion")).toHaveText(/^\d+(\.\d+)?%$/);
    // Hydrated: the charts are drawn by the wasm app, which loaded through the proxy.
    await expect(overview.timeseriesCanvas().first()).toBeVisible();
    await expect(overview.chartCanvas().first()).toBeVisible();
    expect(await urlsOutside(page, basePath), `URLs on the overview outside ${basePath}/`).toEqual([]);

    // The first country's drill-down, client-side: the page stays (no reload) and asks a
    // server function, under the base path, for the new view's data.
    const [first] = await overview.rowLinks();
    expect(first.key, "the first row's key").not.toBe("");
    expect(first.href).toMatch(new RegExp(`^${escapeRegExp(basePath)}/\\?`));
    await page.evaluate(() => ((window as unknown as { __samePage: boolean }).__samePage = true));
    const serverFunction = page.waitForRequest((request) => request.url().startsWith(`${base}/api/`));
    await overview.rowLink(first.key).click();
    await expect(page).toHaveURL(new RegExp(`^${escapeRegExp(base)}/\\?.*country=${escapeRegExp(first.key)}`));
    await serverFunction;
    await expect(overview.table).toHaveAttribute("data-by", "carrier");
    await expect(overview.breadcrumbs).toContainText(first.key);
    expect(await page.evaluate(() => (window as unknown as { __samePage?: boolean }).__samePage), "no reload").toBe(true);
    expect((await overview.rows()).length).toBeGreaterThan(0);
    expect(await urlsOutside(page, basePath), `URLs on the drill-down outside ${basePath}/`).toEqual([]);

    // Its CSV, downloaded as the browser does it from the link.
    const downloading = page.waitForEvent("download");
    await overview.exportCsv.click();
    const download = await downloading;
    expect(download.url()).toMatch(new RegExp(`^${escapeRegExp(base)}/export\\.csv\\?.*country=`));
    const [header, ...lines] = fs.readFileSync((await download.path())!, "utf8").trim().split("\r\n");
    expect(header).toMatch(/^carrier,attempts,converted_attempts,/);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.length).toBe((await overview.rows()).length);

    // The drill-down's attempts, and the first of them.
    await overview.listAttempts.click();
    await expect(page).toHaveURL(new RegExp(`^${escapeRegExp(base)}/attempts\\?.*country=${escapeRegExp(first.key)}`));
    const row = attemptsList.rows.first();
    await expect(row).toBeVisible();
    expect(await urlsOutside(page, basePath), `URLs on the attempts list outside ${basePath}/`).toEqual([]);
    const sid = (await attemptsList.sid(row))!;
    expect(sid).toMatch(/^VL\w+$/);
    await attemptsList.attemptLink(row).click();
    await expect(page).toHaveURL(new RegExp(`^${escapeRegExp(base)}/attempts/${sid}(\\?[^#]*)?$`));
    await expect(attempt.sid).toHaveText(sid);
    await expect(attempt.fields).toContainText(first.key);
    expect(await urlsOutside(page, basePath), `URLs on the attempt outside ${basePath}/`).toEqual([]);
    // As the server renders it, from its URL.
    expect((await page.reload())?.status()).toBe(200);
    await expect(attempt.sid).toHaveText(sid);

    expect(failed, "responses with an error status").toEqual([]);
    const outside = requested.filter((url) => new URL(url).origin === origin && !under.test(url));
    expect(outside, `requests to the proxy outside ${basePath}/`).toEqual([]);
  });
}

test("through nginx, the sub-path without its slash redirects to it, and nothing outside it is served", async ({ page }) => {
  const response = await page.request.get(E2E.proxy.subPathUrl, { maxRedirects: 0 });
  expect(response.status()).toBe(301);
  expect(response.headers()["location"]).toBe(`${E2E.proxy.basePath}/`);
  const outside = await page.request.get(`${new URL(E2E.proxy.subPathUrl).origin}/`);
  expect(outside.status()).toBe(404);
});
