-- The sync's bookkeeping and the names pages show, as in sqlite's snapshot (migrations/sqlite,
-- where each table's meaning is written down). Times stay text in Twilio's form, as there.
CREATE TABLE sync_accounts (
    account_sid TEXT PRIMARY KEY,
    watermark   TEXT
);

CREATE TABLE sync_runs (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_sid       TEXT NOT NULL,
    started_at        TEXT NOT NULL,
    finished_at       TEXT,
    window_start      TEXT NOT NULL,
    window_end        TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('running', 'complete', 'failed')),
    bulk              BOOLEAN NOT NULL DEFAULT FALSE,
    pages             BIGINT NOT NULL DEFAULT 0,
    attempts_new      BIGINT NOT NULL DEFAULT 0,
    attempts_updated  BIGINT NOT NULL DEFAULT 0,
    error             TEXT,
    api_total         BIGINT,
    snapshot_total    BIGINT
);
CREATE INDEX sync_runs_by_account ON sync_runs (account_sid, id);

CREATE TABLE sync_slices (
    run_id         BIGINT NOT NULL REFERENCES sync_runs (id),
    slice          BIGINT NOT NULL,
    window_start   TEXT NOT NULL,
    window_end     TEXT NOT NULL,
    next_page_url  TEXT,
    done           BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (run_id, slice)
);

CREATE TABLE services (
    sid           TEXT PRIMARY KEY,
    friendly_name TEXT NOT NULL,
    fetched_at    TEXT NOT NULL
);

CREATE TABLE account_names (
    account_sid   TEXT PRIMARY KEY,
    friendly_name TEXT NOT NULL
);
