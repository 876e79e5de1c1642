-- Attempts arrive in date order, not SID order: a rowid table appends them, where
-- a WITHOUT ROWID table keyed by random SIDs split pages on almost every insert.
CREATE TABLE attempts_by_rowid (
    sid               TEXT NOT NULL UNIQUE,
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
);
INSERT INTO attempts_by_rowid SELECT * FROM attempts ORDER BY date_created, sid;
DROP TABLE attempts;
ALTER TABLE attempts_by_rowid RENAME TO attempts;
CREATE INDEX attempts_by_date ON attempts (date_created DESC, sid DESC);
CREATE INDEX attempts_by_verification ON attempts (verification_sid);
