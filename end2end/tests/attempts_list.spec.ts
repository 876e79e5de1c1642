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

/** Whether `prices` never rise, unpriced attempts last. */
function priciestFirst(prices: (number | null)[]): boolean {
  return prices.every((price, i) => i === 0 || price === null || (prices[i - 1] !== null && prices[i - 1]! >= price));
}

test("the list orders by price, priciest first, and its next page goes on from there", async ({ page }) => {
  const attemptsList = new AttemptsPage(page);
  const attempts = await attemptsInDefaultRange({ Country: "CO" });
  const highest = Math.max(...attempts.map((a) => Number(a.price?.value ?? -Infinity)));
  await attemptsList.goto("country=CO");
  await expect(attemptsList.orderHeader("newest")).toHaveAttribute("aria-sort", "descending");
  await attemptsList.orderLink("price").click();
  await expect(page).toHaveURL(/order=price/);
  await expect(attemptsList.orderHeader("price")).toHaveAttribute("aria-sort", "descending");
  await expect(attemptsList.orderHeader("newest")).toHaveAttribute("aria-sort", "none");
  const first = await attemptsList.prices();
  expect(first).toHaveLength(50);
  expect(first[0], "the priciest attempt of the view comes first").toBeCloseTo(highest, 6);
  expect(priciestFirst(first), `prices never rise: ${first}`).toBe(true);
  // The list keeps showing the page it has until the next one arrives: wait for that one.
  const lastOfFirst = await attemptsList.sid(attemptsList.rows.last());
  await attemptsList.older.click();
  await expect(page).toHaveURL(/page=/);
  await expect(attemptsList.rows.last()).not.toHaveAttribute("data-sid", lastOfFirst!);
  const second = await attemptsList.prices();
  expect(priciestFirst([...first, ...second]), "the next page continues the order").toBe(true);
  // Back through the choice beside the summary, which says which order is shown.
  await expect(attemptsList.orderChoice("price")).toHaveAttribute("aria-current", "true");
  await expect(attemptsList.orderChoice("newest")).not.toHaveAttribute("aria-current", "true");
  await attemptsList.orderChoice("newest").click();
  await expect(page).not.toHaveURL(/order=|page=/);
  await expect(attemptsList.orderChoice("newest")).toHaveAttribute("aria-current", "true");
  await expect(attemptsList.orderHeader("newest")).toHaveAttribute("aria-sort", "descending");
  const created = await attemptsList.table.locator("tbody td:first-child").allTextContents();
  expect(created).toEqual([...created].sort().reverse());
});
