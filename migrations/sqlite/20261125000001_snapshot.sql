-- One row per verification attempt, with the API's field names.
-- channel_data's fields are columns; times are ISO 8601 UTC text ("2026-11-25T14:05:00Z").
CREATE TABLE attempts (
    sid               TEXT PRIMARY KEY NOT NULL,
    account_sid       TEXT NOT NULL,
    service_sid       TEXT NOT NULL,
    verification_sid  TEXT NOT NULL,
    date_created      TEXT NOT NULL,
    date_updated      TEXT NOT NULL,
    conversion_status TEXT NOT NULL,
    channel           TEXT NOT NULL,
    price             REAL,
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
    carrier           TEXT
) WITHOUT ROWID;

CREATE INDEX attempts_by_date ON attempts (date_created DESC, sid DESC);
CREATE INDEX attempts_by_verification ON attempts (verification_sid);

-- One row per sync run.
CREATE TABLE sync_runs (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at        TEXT NOT NULL,
    finished_at       TEXT,
    window_start      TEXT NOT NULL,
    window_end        TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('running', 'complete', 'failed')),
    pages             INTEGER NOT NULL DEFAULT 0,
    attempts_new      INTEGER NOT NULL DEFAULT 0,
    attempts_updated  INTEGER NOT NULL DEFAULT 0,
    error             TEXT,
    -- The Summary endpoint's total for the window, and the snapshot's, after the run.
    api_total         INTEGER,
    snapshot_total    INTEGER
);

-- Where the next run starts: the end of the last complete window.
CREATE TABLE sync_state (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    watermark  TEXT NOT NULL
);
