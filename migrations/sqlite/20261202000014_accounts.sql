-- Several Twilio accounts sync into one snapshot: each run, and each watermark, is an account's.
ALTER TABLE sync_runs ADD COLUMN account_sid TEXT NOT NULL DEFAULT '';

-- The accounts the deployment syncs, each with where its next incremental sync starts (none
-- before its first complete run).
CREATE TABLE sync_accounts (
    account_sid TEXT PRIMARY KEY NOT NULL,
    watermark   TEXT
);

-- A snapshot synced before holds one account's attempts: its runs and watermark are that account's.
UPDATE sync_runs SET account_sid = (SELECT account_sid FROM attempts LIMIT 1)
    WHERE EXISTS (SELECT 1 FROM attempts);
INSERT INTO sync_accounts (account_sid, watermark)
    SELECT (SELECT account_sid FROM attempts LIMIT 1), watermark FROM sync_state
    WHERE id = 1 AND EXISTS (SELECT 1 FROM attempts);
DROP TABLE sync_state;

-- The account of each Verify service, kept from the attempts as they are written: the rollups
-- are kept by service, so they answer by account through it.
CREATE TABLE service_accounts (
    service_sid TEXT PRIMARY KEY NOT NULL,
    account_sid TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO service_accounts (service_sid, account_sid)
    SELECT DISTINCT service_sid, (SELECT account_sid FROM attempts LIMIT 1) FROM rollup_attempts
    WHERE EXISTS (SELECT 1 FROM attempts);

-- How pages name each account: the name the accounts file gives it.
CREATE TABLE account_names (
    account_sid   TEXT PRIMARY KEY NOT NULL,
    friendly_name TEXT NOT NULL
);
