import { E2E } from "./fixtures/environment";

// The dashboard answers before its first sync ends; wait until the snapshot is complete.
export default async function globalSetup() {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      const health = await (await fetch(`${E2E.dashboardUrl}/healthz`)).json();
      if (health.synced) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error("the dashboard did not complete its first sync within 60 s");
}
