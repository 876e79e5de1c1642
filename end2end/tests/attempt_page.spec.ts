// One attempt's page: breadcrumbs back to the list it was opened from, its error code linked
// to Twilio's page for it, and its verification's attempts as a timeline from the first.
import type { Locator } from "@playwright/test";
import { expect, test } from "./fixtures/test";
import { attemptsInDefaultRange, byError, figuresBy, formatOffset, listAllAttempts, snapshotAsOf } from "./fixtures/emulator";
import { AttemptPage } from "./fixtures/attempt_page";
import { AttemptsPage } from "./fixtures/attempts_page";
import { E2E } from "./fixtures/environment";

const emulatorAuth = () => ({
  Authorization: `Basic ${Buffer.from(`${E2E.accountSid}:${E2E.authToken}`).toString("base64")}`,
});

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

test("an attempt opened from a filtered list leads back to that list", async ({ page }) => {
  const attemptsList = new AttemptsPage(page);
  const attempt = new AttemptPage(page);
  const query = "country=CO&channel=sms";
  await attemptsList.goto(query);
  const row = attemptsList.rows.first();
  await expect(row).toBeVisible();
  const filters = await attemptsList.chipLabels();
  expect(filters).toHaveLength(2);
  const sid = (await attemptsList.sid(row))!;
  const listUrl = page.url();

  await attemptsList.attemptLink(row).click();
  await expect(page).toHaveURL(new RegExp(`/attempts/${sid}\\?${escapeRegExp(query)}$`));
  await expect(attempt.sid).toHaveText(sid);
  await expect(attempt.breadcrumbs).toContainText(sid);
  // Named by the list's filters, as its chips name them.
  await expect(attempt.backToList).toHaveText(`Attempts (${filters.join(", ")})`);
  await expect(attempt.backToList).toHaveAttribute("href", `/attempts?${query}`);
  // As the server renders it too.
  await page.reload();
  await expect(attempt.backToList).toHaveText(`Attempts (${filters.join(", ")})`);

  await attempt.backToList.click();
  await expect(page).toHaveURL(listUrl);
  await expect(attemptsList.rows.first()).toHaveAttribute("data-sid", sid);
  expect(await attemptsList.chipLabels()).toEqual(filters);

  // Opened from nowhere in particular, it leads back to all the attempts.
  await attempt.goto(sid);
  await expect(attempt.backToList).toHaveText("Attempts");
  await expect(attempt.backToList).toHaveAttribute("href", "/attempts");
});

test("an error code links to Twilio's page for it, in a new tab", async ({ page }) => {
  const attemptsList = new AttemptsPage(page);
  const attempt = new AttemptPage(page);
  const attempts = await attemptsInDefaultRange();
  // The most frequent error code of the data.
  const [code] = [...figuresBy(attempts, byError)].filter(([key]) => key !== "").sort((a, b) => b[1].attempts - a[1].attempts)[0];
  const twilioPage = `https://www.twilio.com/docs/api/errors/${code}`;
  await attemptsList.goto(`error=${code}`);
  const row = attemptsList.rows.first();
  await expect(row).toBeVisible();
  const sid = (await attemptsList.sid(row))!;
  expect(attempts.find((a) => a.sid === sid)?.channel_data?.error_code, `the API's error code of ${sid}`).toBe(code);
  const expectLinkToTwilio = async (link: Locator) => {
    await expect(link).toHaveText(new RegExp(`^${code}\\b`));
    await expect(link).toHaveAttribute("href", twilioPage);
    await expect(link).toHaveAttribute("target", "_blank");
    await expect(link).toHaveAttribute("rel", /(^|\s)noopener(\s|$)/);
  };
  await expectLinkToTwilio(attemptsList.errorLink(row));
  await attemptsList.attemptLink(row).click();
  await expect(attempt.sid).toHaveText(sid);
  await expectLinkToTwilio(attempt.errorLink);

  // An attempt without an error code says so, and links nowhere.
  const clean = attempts.find((a) => !a.channel_data?.error_code)!;
  await attempt.goto(clean.sid);
  await expect(attempt.field("Error code")).toHaveText("none");
  await expect(attempt.errorLink).toHaveCount(0);
});

test("a verification's attempts read as a timeline from its first", async ({ page }) => {
  const attempt = new AttemptPage(page);
  // A verification of three attempts or more, from the API.
  const perVerification = new Map<string, number>();
  for (const a of await attemptsInDefaultRange({ Country: "CO" })) {
    perVerification.set(a.verification_sid, (perVerification.get(a.verification_sid) ?? 0) + 1);
  }
  const verification = [...perVerification].find(([, n]) => n >= 3)?.[0];
  expect(verification, "a verification with three attempts or more").toBeDefined();
  const attempts = (await listAllAttempts({ VerificationSid: verification!, DateCreatedBefore: await snapshotAsOf() })).sort((a, b) =>
    a.date_created.localeCompare(b.date_created),
  );
  const first = Date.parse(attempts[0].date_created);
  const offsets = attempts.map((a) => formatOffset((Date.parse(a.date_created) - first) / 1000));
  expect(offsets[0]).toBe("+0s");

  await attempt.goto(attempts[attempts.length - 1].sid);
  await expect(attempt.verificationTable.locator("thead")).toContainText("After the first");
  await expect(attempt.offsets).toHaveText(offsets);
  expect((await attempt.verificationSids()).sort()).toEqual(attempts.map((a) => a.sid).sort());
  // Increasing from +0s: each attempt after the one before it.
  const seconds = (await attempt.offsets.allInnerTexts()).map((text) => {
    const [, h = "0", m = "0", s = "0"] = /^\+(?:(\d+)h )?(?:(\d+)m ?)?(?:(\d+)s)?$/.exec(text) ?? [];
    return Number(h) * 3600 + Number(m) * 60 + Number(s);
  });
  expect(seconds).toEqual([...seconds].sort((a, b) => a - b));
  expect(new Set(seconds).size, "distinct times").toBeGreaterThan(1);
});

test("an attempt's service reads by its name, and a refresh from Twilio says nothing changed", async ({ page }) => {
  const attempt = new AttemptPage(page);
  const [one] = await attemptsInDefaultRange({ Country: "CO" });
  const services = (await (await fetch(`${E2E.emulatorUrl}/v2/Services`, { headers: emulatorAuth() })).json()).services as {
    sid: string;
    friendly_name: string;
  }[];
  const service = services.find((s) => s.sid === one.service_sid)!;
  await attempt.goto(one.sid);
  await expect(attempt.field("Service")).toHaveText(`${service.friendly_name} (${service.sid.slice(0, 6)}…)`);
  // Hydrated, the refresh asks a server function and says what it found, without a reload.
  await expect(page.getByTestId("refresh-form")).toHaveAttribute("data-hydrated", "true");
  const asked = page.waitForResponse((r) => r.url().endsWith("/api/refresh_attempt"));
  await attempt.refreshButton.click();
  expect((await asked).status()).toBe(200);
  await expect(attempt.refreshOutcome).toHaveText("Nothing changed since the snapshot.");
  await expect(attempt.sid).toHaveText(one.sid);
});
