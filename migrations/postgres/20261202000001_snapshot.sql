-- The PostgreSQL store: the same attempts as sqlite's snapshot, with typed times, partitioned by
-- the month each was created in, so that a month of old history is dropped or archived whole.
-- A partitioned table's keys hold its partition key: an attempt's date_created never changes, so
-- (sid, date_created) is as unique as sid.
CREATE TABLE attempts (
    sid               TEXT NOT NULL,
    account_sid       TEXT NOT NULL,
    service_sid       TEXT NOT NULL,
    verification_sid  TEXT NOT NULL,
    date_created      TIMESTAMPTZ NOT NULL,
    date_updated      TIMESTAMPTZ NOT NULL,
    conversion_status TEXT NOT NULL,
    channel           TEXT NOT NULL,
    price             DOUBLE PRECISION,
    price_unit        TEXT,
    "to"              TEXT,
    status            TEXT,
    message_status    TEXT,
    call_status       TEXT,
    error_code        TEXT,
    country           TEXT,
    code_length       INTEGER,
    locale            TEXT,
    mcc               TEXT,
    mnc               TEXT,
    carrier           TEXT,
    PRIMARY KEY (sid, date_created)
) PARTITION BY RANGE (date_created);

CREATE INDEX attempts_by_date ON attempts (date_created DESC, sid DESC);
CREATE INDEX attempts_by_verification ON attempts (verification_sid);

-- Who may sync each account: the holder of its advisory lock, whose epoch is the current one.
-- Every write of a sync checks its epoch against this row, in the write's own transaction.
CREATE TABLE sync_leases (
    account_sid  TEXT PRIMARY KEY,
    epoch        BIGINT NOT NULL,
    holder       TEXT NOT NULL,
    acquired_at  TIMESTAMPTZ NOT NULL
);
