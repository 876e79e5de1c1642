import * as fs from "fs";
import { E2E, secrets } from "./fixtures/environment";
import type { Checked } from "./fixtures/test";

// The dashboards still run here (Playwright stops its web servers after this), so the
// logs hold everything but their shutdown.
export default async function globalTeardown() {
  const logs = [E2E.logPath, E2E.hostile.logPath, E2E.proxy.logPath];
  if (E2E.postgres) logs.push(E2E.postgres.logPath);
  for (const log of logs) {
    const text = fs.readFileSync(log, "utf8");
    if (text.trim() === "") throw new Error(`${log} is empty: the dashboard's output was not captured`);
    if (secrets.some((secret) => text.includes(secret))) throw new Error(`${log} contains the auth token`);
  }
  const lines = fs.existsSync(E2E.checkedPath) ? fs.readFileSync(E2E.checkedPath, "utf8").trim().split("\n") : [];
  const total: Checked = { requests: 0, responses: 0, bodies: 0, withoutBody: 0, unavailable: 0 };
  for (const line of lines) {
    const checked = JSON.parse(line) as Checked;
    for (const key of Object.keys(total) as (keyof Checked)[]) total[key] += checked[key];
  }
  console.log(
    `The dashboards' logs hold no auth token. ${lines.length} tests looked for it in ${total.bodies} response ` +
      `bodies, the headers of ${total.responses} responses and the URLs of ${total.requests} requests ` +
      `(redirects and 304s without a body: ${total.withoutBody}; bodies gone before they could be read: ${total.unavailable}).`,
  );
}
