import { defineConfig } from "@playwright/test";
import { E2E, postgresSpecs } from "./tests/fixtures/environment";
import { writeNginxConfig } from "./tests/fixtures/nginx";

const emulator = (addr: string, options: string) => ({
  command: `${E2E.binary} emulate --addr ${addr} --seed ${E2E.seed} ${options} --rate-limit 0 --now ${E2E.pinnedNow} --account-sid ${E2E.accountSid} --auth-token ${E2E.authToken}`,
  url: `http://${addr}/v2/Attempts/Summary`,
  // 401 without credentials still means "up".
  ignoreHTTPSErrors: true,
  reuseExistingServer: false,
  timeout: 60_000,
  stdout: "pipe" as const,
});

// The log is kept for global-teardown, which looks for the credentials in it. The
// dashboard's clock is pinned to the emulator's, so "today" cannot move during the run.
// With a base path, it serves everything under it (as behind a proxy at a sub-path).
const dashboard = (addr: string, db: string, log: string, emulatorUrl: string, basePath = "") => ({
  command: `${E2E.binary} serve --addr ${addr} --db ${db} --now ${E2E.pinnedNow}${basePath ? ` --base-path ${basePath}` : ""} 2>&1 | tee ${log}`,
  url: `http://${addr}${basePath}/healthz`,
  reuseExistingServer: false,
  timeout: 60_000,
  stdout: "pipe" as const,
  env: {
    TWILIO_ACCOUNT_SID: E2E.accountSid,
    TWILIO_AUTH_TOKEN: E2E.authToken,
    VERILENS_API_URL: emulatorUrl,
    VERILENS_RATE_LIMIT: "0",
  },
});

// nginx in front of the main dashboard at `/` and of the third at `/verilens/`
// (tests/reverse_proxy.spec.ts), with the config written here, before it starts. It binds
// both ports before it answers, so one URL through it tells that both are up.
const proxy = {
  command: `${E2E.proxy.nginx} -c ${writeNginxConfig()} -e ${E2E.proxy.errorLogPath}`,
  url: `${E2E.proxy.subPathUrl}/healthz`,
  reuseExistingServer: false,
  timeout: 30_000,
  stdout: "pipe" as const,
};

// The main dashboard's twin on PostgreSQL, in a database it is given (created here).
const postgresDashboard = (() => {
  if (!E2E.postgres) return undefined;
  const server = dashboard(E2E.postgres.dashboardAddr, `'${E2E.postgres.dbUrl}'`, E2E.postgres.logPath, E2E.emulatorUrl);
  return {
    ...server,
    command: `psql '${E2E.postgres.server}' -qc 'CREATE DATABASE ${E2E.postgres.database}' && ${server.command}`,
  };
})();

// Servers: an emulator with a pinned clock (so the data cannot move during the run)
// and the dashboard syncing from it with credentials, like a real deployment; then a
// second, smaller pair whose carrier names are hostile (tests/security.spec.ts); then
// a third dashboard, under a base path, syncing from the first emulator; and last nginx
// in front of the first and the third; and, when the test command names a PostgreSQL server,
// the main dashboard's twin on it, which the specs of `postgresSpecs` run on as well.
export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  globalSetup: "./tests/global-setup.ts",
  globalTeardown: "./tests/global-teardown.ts",
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
  projects: [
    { name: "sqlite" },
    ...(E2E.postgres
      ? [{ name: "postgres", use: { baseURL: E2E.postgres.dashboardUrl }, testMatch: postgresSpecs.map((spec) => `**/${spec}`) }]
      : []),
  ],
  webServer: [
    emulator(E2E.emulatorAddr, `--attempts ${E2E.attempts}`),
    dashboard(E2E.dashboardAddr, E2E.dbPath, E2E.logPath, E2E.emulatorUrl),
    emulator(E2E.hostile.emulatorAddr, `--attempts ${E2E.hostile.attempts} --carriers ${E2E.hostile.carriersFile}`),
    dashboard(E2E.hostile.dashboardAddr, E2E.hostile.dbPath, E2E.hostile.logPath, E2E.hostile.emulatorUrl),
    dashboard(E2E.proxy.dashboardAddr, E2E.proxy.dbPath, E2E.proxy.logPath, E2E.emulatorUrl, E2E.proxy.basePath),
    proxy,
    ...(postgresDashboard ? [postgresDashboard] : []),
  ],
});
