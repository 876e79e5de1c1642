import { defineConfig } from "@playwright/test";
import { E2E } from "./tests/fixtures/environment";

// Servers: an emulator with a pinned clock (so the data cannot move during the run)
// and the dashboard syncing from it with credentials, like a real deployment.
export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  globalSetup: "./tests/global-setup.ts",
  use: {
    baseURL: E2E.dashboardUrl,
    trace: "off",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
      ],
    },
  },
  webServer: [
    {
      command: `${E2E.binary} emulate --addr ${E2E.emulatorAddr} --seed ${E2E.seed} --attempts ${E2E.attempts} --rate-limit 0 --now ${E2E.pinnedNow} --account-sid ${E2E.accountSid} --auth-token ${E2E.authToken}`,
      url: `${E2E.emulatorUrl}/v2/Attempts/Summary`,
      // 401 without credentials still means "up".
      ignoreHTTPSErrors: true,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: "pipe",
    },
    {
      command: `${E2E.binary} serve --addr ${E2E.dashboardAddr} --db ${E2E.dbPath}`,
      url: `${E2E.dashboardUrl}/healthz`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: "pipe",
      env: {
        TWILIO_ACCOUNT_SID: E2E.accountSid,
        TWILIO_AUTH_TOKEN: E2E.authToken,
        VERILENS_API_URL: E2E.emulatorUrl,
        VERILENS_RATE_LIMIT: "0",
      },
    },
  ],
});
