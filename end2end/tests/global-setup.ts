import { E2E } from "./fixtures/environment";

// The dashboards answer before their first sync ends; wait until every snapshot is complete.
// Each URL is where the dashboard serves: the one under a base path includes it.
export default async function globalSetup() {
  const dashboards = [E2E.dashboardUrl, E2E.hostile.dashboardUrl, E2E.proxy.dashboardUrl];
  if (E2E.postgres) dashboards.push(E2E.postgres.dashboardUrl);
  for (const dashboard of dashboards) {
    await waitForSync(dashboard);
  }
}

async function waitForSync(dashboard: string) {
  const deadline = Date.now() + 300_000;
  while (Date.now() < deadline) {
    try {
      const health = await (await fetch(`${dashboard}/healthz`)).json();
      if (health.synced) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the dashboard at ${dashboard} did not complete its first sync within 300 s`);
}
