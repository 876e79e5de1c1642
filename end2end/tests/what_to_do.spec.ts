// "What to do" and "Retries" on the overview: the planted WhatsApp advantage is recommended
// with the figures computed here from the API, its arithmetic opens from the keyboard, its
// link shows the evidence, and the retry funnel equals the API's verifications.
import { expect, test } from "./fixtures/test";
import { type ApiAttempt, dayStart, defaultRangeStart, formatCount, listAllAttempts, snapshotAsOf } from "./fixtures/emulator";
import { OverviewPage } from "./fixtures/overview_page";

/** A channel in a market, computed from the API: verifications with an attempt on it, and those converted on it. */
function onChannel(attempts: ApiAttempt[], channel: string) {
  const on = attempts.filter((a) => a.channel === channel);
  return {
    verifications: new Set(on.map((a) => a.verification_sid)).size,
    converted: new Set(on.filter((a) => a.conversion_status === "converted").map((a) => a.verification_sid)).size,
  };
}

test("the planted WhatsApp advantage is recommended with the API's figures, its arithmetic and its evidence", async ({ page }) => {
  const overview = new OverviewPage(page);
  await overview.goto();
  const panel = page.getByTestId("what-to-do");
  await expect(panel.getByRole("heading", { name: "What to do" })).toBeVisible();
  for (const country of ["CO", "BR", "IN"]) {
    await expect(panel.locator(`[data-testid=recommendation][data-country=${country}][data-better=whatsapp][data-worse=sms]`)).toHaveCount(1);
  }
  const co = panel.locator("[data-testid=recommendation][data-country=CO][data-worse=sms]");
  const attempts = await listAllAttempts({ Country: "CO", DateCreatedAfter: defaultRangeStart(), DateCreatedBefore: await snapshotAsOf() });
  const sms = onChannel(attempts, "sms");
  const whatsapp = onChannel(attempts, "whatsapp");
  const rate = (c: { verifications: number; converted: number }) => (c.converted * 100) / c.verifications;
  // Past the first four entries, the others are one keystroke away.
  const more = panel.getByTestId("what-to-do-more");
  if ((await more.count()) > 0 && !(await co.isVisible())) {
    await more.locator("summary").first().focus();
    await page.keyboard.press("Enter");
  }
  await expect(co).toBeVisible();
  await expect(co.getByRole("link")).toContainText(
    `CO: WhatsApp converts ${rate(whatsapp).toFixed(0)}% of verifications vs SMS ${rate(sms).toFixed(0)}%`,
  );
  const coMoves = await panel.locator("[data-testid=recommendation][data-country=CO]").count();
  // Its link, from the keyboard, leads to its evidence: the market by channel, whose rows are
  // the recommendation's figures, and where its arithmetic is open.
  await co.getByRole("link").focus();
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/[?&]country=CO(&|$)/);
  await expect(page).toHaveURL(/[?&]by=channel(&|$)/);
  await overview.waitForData();
  // The market by channel is shown (a client-side navigation shows the last view until then).
  await expect(overview.row("sms")).toBeVisible();
  const rows = await overview.rows();
  expect(rows.find((r) => r.key === "whatsapp")?.verifications).toBe(whatsapp.verifications);
  expect(rows.find((r) => r.key === "sms")?.verifications).toBe(sms.verifications);
  const here = page.getByTestId("what-to-do").locator("[data-testid=recommendation][data-worse=sms]");
  const arithmetic = here.getByTestId("arithmetic");
  await expect(arithmetic).toBeVisible();
  await expect(arithmetic).toContainText(`SMS: ${formatCount(sms.verifications)} verifications, ${formatCount(sms.converted)} converted`);
  await expect(arithmetic).toContainText(
    `WhatsApp: ${formatCount(whatsapp.verifications)} verifications, ${formatCount(whatsapp.converted)} converted`,
  );
  const gained = (sms.verifications * (rate(whatsapp) - rate(sms))) / 100;
  await expect(arithmetic).toContainText(`= ${gained.toFixed(0)} verifications`);
  await expect(arithmetic).toContainText("Assumes that the users SMS reached would convert on WhatsApp");
  // It folds from the keyboard too.
  await here.locator("summary").focus();
  await page.keyboard.press("Enter");
  await expect(arithmetic).toBeHidden();
  // The market's own view lists its moves alone.
  await expect(page.getByTestId("what-to-do").getByTestId("recommendation")).toHaveCount(coMoves);
});

test("What to do's CSV holds the panel's recommendations, and alike markets have none", async ({ page }) => {
  const overview = new OverviewPage(page);
  await overview.goto();
  const shown = await page.getByTestId("recommendation").evaluateAll((items) =>
    items.map((i) => `${i.getAttribute("data-country")},${i.getAttribute("data-better")},${i.getAttribute("data-worse")}`),
  );
  const csv = await (await page.request.get((await page.getByTestId("what-to-do-csv").getAttribute("href"))!)).text();
  const [header, ...lines] = csv.trim().split("\r\n");
  expect(header.startsWith("kind,country,channel,instead_of,")).toBe(true);
  const moves = lines.filter((l) => l.startsWith("channel-move,")).map((l) => l.split(",").slice(1, 4).join(","));
  expect(moves.sort()).toEqual([...shown].sort());
  for (const country of ["GB", "DE", "FR"]) {
    expect(moves.filter((m) => m.startsWith(`${country},`)), country).toEqual([]);
  }
  await overview.goto("country=GB");
  await expect(page.getByTestId("recommendation")).toHaveCount(0);
});

test("the retry funnel equals the verifications computed from the API", async ({ page }) => {
  const overview = new OverviewPage(page);
  await overview.goto("country=BR");
  const start = defaultRangeStart();
  // A day before the range too: a verification is counted where its first attempt is.
  const attempts = await listAllAttempts({ Country: "BR", DateCreatedAfter: dayStart(-30), DateCreatedBefore: await snapshotAsOf() });
  const byVerification = new Map<string, ApiAttempt[]>();
  for (const a of attempts) byVerification.set(a.verification_sid, [...(byVerification.get(a.verification_sid) ?? []), a]);
  let verifications = 0;
  let retried = 0;
  const paths = new Map<string, number>();
  const reached = [0, 0, 0];
  const convertedAt = [0, 0, 0];
  for (const list of byVerification.values()) {
    list.sort((a, b) => (a.date_created + a.sid < b.date_created + b.sid ? -1 : 1));
    if (list[0].date_created < start) continue;
    verifications += 1;
    if (list.length > 1) retried += 1;
    for (let i = 0; i < 3; i++) if (list.length > i) reached[i] += 1;
    const at = list.findIndex((a) => a.conversion_status === "converted");
    if (at >= 0) convertedAt[Math.min(at, 2)] += 1;
    const steps = list.map((a) => a.channel).filter((c, i, all) => i === 0 || all[i - 1] !== c);
    const path = steps.slice(0, 3).join(">") + (steps.length > 3 ? "+" : "");
    paths.set(path, (paths.get(path) ?? 0) + 1);
  }
  const funnel = page.getByTestId("funnel");
  await expect(funnel.getByTestId("funnel-retried")).toContainText(
    `${formatCount(retried)} of ${formatCount(verifications)} verifications`,
  );
  const steps = funnel.getByTestId("funnel-step");
  await expect(steps).toHaveCount(3);
  for (let i = 0; i < 3; i++) {
    const cells = steps.nth(i).locator("td");
    await expect(cells.nth(0)).toHaveText(formatCount(reached[i]));
    await expect(cells.nth(1)).toHaveText(formatCount(convertedAt[i]));
  }
  // Fallbacks: the emulator's users ask for a call after a failed SMS.
  const shown = funnel.getByTestId("funnel-path");
  expect(await shown.count()).toBeGreaterThan(2);
  for (const row of await shown.all()) {
    const path = (await row.getAttribute("data-key"))!;
    await expect(row.locator("td").first(), path).toHaveText(formatCount(paths.get(path) ?? -1));
  }
  await expect(funnel.locator("[data-key='sms>call'] th")).toHaveText("SMS → Call");
});
