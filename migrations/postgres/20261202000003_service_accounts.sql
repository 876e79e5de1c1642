-- The account of each Verify service, kept from the attempts as they are written: the rollups
-- are kept by service, so they answer by account through it (as in sqlite).
CREATE TABLE service_accounts (
    service_sid TEXT PRIMARY KEY,
    account_sid TEXT NOT NULL
);
