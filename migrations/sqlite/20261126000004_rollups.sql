-- Rollups: the dashboard's questions answered from counts, not raw rows. The sync keeps
-- them in the same transaction as the attempts; `verilens rebuild-rollups` recomputes them.
-- grain is 'day' (period 'YYYY-MM-DD') or 'hour' (period 'YYYY-MM-DDTHH'), in UTC; hour rows
-- exist from rollup_state.hour_horizon on (the sync keeps it 72 hours back: what 24-hour views need).
-- Text keys are '' where the attempt has no value; money is in millionths of the currency.
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
    attempts          INTEGER NOT NULL,
    delivered         INTEGER NOT NULL,
    finalized         INTEGER NOT NULL,
    spend_micros      INTEGER NOT NULL,
    PRIMARY KEY (grain, period, country, carrier, channel, service_sid, error_code, conversion_status, currency)
) WITHOUT ROWID;

-- Distinct verifications. A verification whose attempts share one period, country, carrier
-- and service is counted once in the row of its channels: unconverted_channels and
-- converted_channels are bit sets (sms 1, call 2, email 4, whatsapp 8, rbm 16) of the
-- channels of its unconverted and converted attempts. error_key '*' covers all its attempts;
-- an error code (or '' for none) covers only its attempts with that code.
CREATE TABLE rollup_verifications (
    grain                TEXT NOT NULL,
    error_key            TEXT NOT NULL,
    period               TEXT NOT NULL,
    country              TEXT NOT NULL,
    carrier              TEXT NOT NULL,
    service_sid          TEXT NOT NULL,
    unconverted_channels INTEGER NOT NULL,
    converted_channels   INTEGER NOT NULL,
    verifications        INTEGER NOT NULL,
    PRIMARY KEY (grain, error_key, period, country, carrier, service_sid, unconverted_channels, converted_channels)
) WITHOUT ROWID;

-- The attempts of verifications whose attempts span periods, countries, carriers or
-- services: few, so they are counted one by one when a view asks.
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
) WITHOUT ROWID;

-- Every hour of the snapshot per market, carrier and channel: what anomaly detection reads.
CREATE TABLE rollup_hours (
    hour       TEXT NOT NULL,
    country    TEXT NOT NULL,
    carrier    TEXT NOT NULL,
    channel    TEXT NOT NULL,
    attempts   INTEGER NOT NULL,
    converted  INTEGER NOT NULL,
    delivered  INTEGER NOT NULL,
    finalized  INTEGER NOT NULL,
    PRIMARY KEY (hour, country, carrier, channel)
) WITHOUT ROWID;

-- The rollups' version (no row, or an older one, means they must be rebuilt from attempts),
-- a generation that every write of attempts moves on, for readers that cache them, and the
-- first hour kept at hour grain.
CREATE TABLE rollup_state (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    version      INTEGER NOT NULL,
    generation   INTEGER NOT NULL DEFAULT 0,
    hour_horizon TEXT NOT NULL DEFAULT ''
);
