-- A first sync loads an empty snapshot without indexes and builds them at the end, by
-- sorting, which is several times faster than inserting random SIDs into live indexes.
-- An index can be dropped and a UNIQUE constraint cannot, so the SID's uniqueness moves
-- to an index of its own.
CREATE TABLE attempts_with_sid_index (
    sid               TEXT NOT NULL,
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
INSERT INTO attempts_with_sid_index SELECT * FROM attempts ORDER BY rowid;
DROP TABLE attempts;
ALTER TABLE attempts_with_sid_index RENAME TO attempts;
CREATE UNIQUE INDEX attempts_by_sid ON attempts (sid);
CREATE INDEX attempts_by_date ON attempts (date_created DESC, sid DESC);
CREATE INDEX attempts_by_verification ON attempts (verification_sid);

-- A run that loads an empty snapshot without indexes (1), building them when it ends.
ALTER TABLE sync_runs ADD COLUMN bulk INTEGER NOT NULL DEFAULT 0;
