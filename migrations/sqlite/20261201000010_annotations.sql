-- Notes on the timeline: added by hand, by scripts through the API, or by verilens for each
-- incident it finds (keyed, so that one incident is noted once).
CREATE TABLE annotations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- ISO 8601 UTC; `ends_at` NULL for a moment.
    starts_at TEXT NOT NULL,
    ends_at TEXT,
    text TEXT NOT NULL,
    link TEXT,
    -- 'page', 'api' or 'incident'.
    source TEXT NOT NULL,
    incident_key TEXT UNIQUE,
    created_at TEXT NOT NULL
);
CREATE INDEX annotations_by_time ON annotations (starts_at);
