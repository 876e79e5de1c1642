// The attempts list says how many attempts its view holds and what they cost, as the API
// counts them: every attempt of the view, not only the page shown.
import { expect, test } from "./fixtures/test";
import { attemptsInDefaultRange, formatCount, spendByCurrency } from "./fixtures/emulator";
import { AttemptsPage } from "./fixtures/attempts_page";

/** Opens the list of `query` and checks its summary against the API's attempts for `params`. */
async function expectSummaryOf(attemptsList: AttemptsPage, query: string, params: Record<string, string>) {
  const attempts = await attemptsInDefaultRange(params);
  expect(attempts.length, `attempts of ${query}`).toBeGreaterThan(50);
  const spend = spendByCurrency(attempts);
  await attemptsList.goto(query);
  await expect(attemptsList.summary).toHaveText(new RegExp(`^${formatCount(attempts.length)} attempts`));
  const figures = await attemptsList.summaryFigures();
  expect(figures.attempts).toBe(formatCount(attempts.length));
  expect(figures.spend.map((m) => m.currency).sort(), "the currencies priced").toEqual([...spend.keys()].sort());
  for (const money of figures.spend) {
    // Two decimals: the exact sum is within half a cent of what the page says.
    expect(money.text, "money as the page writes it").toMatch(/^-?(\$|€|£)?\d{1,3}(,\d{3})*\.\d{2}( [A-Z]{3})?$/);
    const exact = spend.get(money.currency)! / 1_000_000;
    expect(Math.abs(money.amount - exact), `${money.text} against ${exact}`).toBeLessThanOrEqual(0.005 + 1e-9);
  }
  // The page shows 50 of them.
  await expect(attemptsList.rows).toHaveCount(50);
}

test("the list says how many attempts match and what they cost, as the API counts them", async ({ page }) => {
  const attemptsList = new AttemptsPage(page);
  await expectSummaryOf(attemptsList, "country=CO", { Country: "CO" });
  await expectSummaryOf(attemptsList, "country=US&channel=sms", { Country: "US", Channel: "sms" });
});

test("with nothing priced, the list says how many attempts match and no spend", async ({ page }) => {
  const attemptsList = new AttemptsPage(page);
  const attempts = await attemptsInDefaultRange({ Channel: "email" });
  expect(attempts.length).toBeGreaterThan(0);
  expect(spendByCurrency(attempts).size, "email attempts with a price").toBe(0);
  await attemptsList.goto("channel=email");
  await expect(attemptsList.summary).toHaveText(`${formatCount(attempts.length)} attempts`);
});
