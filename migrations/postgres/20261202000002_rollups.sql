-- The rollups, as in sqlite's snapshot (migrations/sqlite, where each table's meaning is
-- written down), kept by the same transactions as the attempts. Periods and times are text
-- in the same forms, so both stores key their rows alike.
CREATE TABLE rollup_attempts (
    grain             TEXT NOT NULL,
    period            TEXT NOT NULL,
    country           TEXT NOT NULL,
    carrier           TEXT NOT NULL,
    channel           TEXT NOT NULL,
    service_sid       TEXT NOT NULL,
    error_code        TEXT NOT NULL,
    conversion_status TEXT NOT NULL,
    currency          TEXT NOT NULL,
    attempts          BIGINT NOT NULL,
    delivered         BIGINT NOT NULL,
    finalized         BIGINT NOT NULL,
    spend_micros      BIGINT NOT NULL,
    unconverted_verification_spend_micros BIGINT NOT NULL,
    PRIMARY KEY (grain, period, country, carrier, channel, service_sid, error_code, conversion_status, currency)
);

CREATE TABLE rollup_verifications (
    grain                TEXT NOT NULL,
    error_key            TEXT NOT NULL,
    period               TEXT NOT NULL,
    country              TEXT NOT NULL,
    carrier              TEXT NOT NULL,
    service_sid          TEXT NOT NULL,
    unconverted_channels BIGINT NOT NULL,
    converted_channels   BIGINT NOT NULL,
    verifications        BIGINT NOT NULL,
    PRIMARY KEY (grain, error_key, period, country, carrier, service_sid, unconverted_channels, converted_channels)
);
CREATE INDEX rollup_verifications_period ON rollup_verifications (grain, period);

CREATE TABLE irregular_attempts (
    grain             TEXT NOT NULL,
    verification_sid  TEXT NOT NULL,
    sid               TEXT NOT NULL,
    period            TEXT NOT NULL,
    country           TEXT NOT NULL,
    carrier           TEXT NOT NULL,
    channel           TEXT NOT NULL,
    service_sid       TEXT NOT NULL,
    error_code        TEXT NOT NULL,
    conversion_status TEXT NOT NULL,
    PRIMARY KEY (grain, verification_sid, sid)
);
CREATE INDEX irregular_attempts_period ON irregular_attempts (grain, period);

CREATE TABLE rollup_hours (
    hour       TEXT NOT NULL,
    country    TEXT NOT NULL,
    carrier    TEXT NOT NULL,
    channel    TEXT NOT NULL,
    attempts   BIGINT NOT NULL,
    converted  BIGINT NOT NULL,
    delivered  BIGINT NOT NULL,
    finalized  BIGINT NOT NULL,
    PRIMARY KEY (hour, country, carrier, channel)
);

CREATE TABLE rollup_funnel (
    grain         TEXT NOT NULL,
    period        TEXT NOT NULL,
    country       TEXT NOT NULL,
    carrier       TEXT NOT NULL,
    service_sid   TEXT NOT NULL,
    path          TEXT NOT NULL,
    channels      BIGINT NOT NULL,
    attempts      BIGINT NOT NULL,
    converted_at  BIGINT NOT NULL,
    verifications BIGINT NOT NULL,
    gap_0 BIGINT NOT NULL, gap_1 BIGINT NOT NULL, gap_2 BIGINT NOT NULL,
    gap_3 BIGINT NOT NULL, gap_4 BIGINT NOT NULL, gap_5 BIGINT NOT NULL,
    conversion_0 BIGINT NOT NULL, conversion_1 BIGINT NOT NULL, conversion_2 BIGINT NOT NULL,
    conversion_3 BIGINT NOT NULL, conversion_4 BIGINT NOT NULL, conversion_5 BIGINT NOT NULL,
    PRIMARY KEY (grain, period, country, carrier, service_sid, path, channels, attempts, converted_at)
);

-- The rollups' version and reporting zone, their generation (moved on by every write), the
-- generation of their last rebuild, and the first hour kept at hour grain.
CREATE TABLE rollup_state (
    id                 INTEGER PRIMARY KEY CHECK (id = 1),
    version            BIGINT NOT NULL,
    zone               TEXT NOT NULL,
    generation         BIGINT NOT NULL DEFAULT 0,
    rebuilt_generation BIGINT NOT NULL DEFAULT 0,
    hour_horizon       TEXT NOT NULL DEFAULT ''
);

CREATE TABLE rollup_changes (
    grain      TEXT NOT NULL,
    period     TEXT NOT NULL,
    generation BIGINT NOT NULL,
    PRIMARY KEY (grain, period)
);
CREATE INDEX rollup_changes_generation ON rollup_changes (generation);
