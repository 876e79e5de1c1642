-- The account's Verify services, by the names people know them by (GET /v2/Services), kept by
-- each sync. A service no longer listed keeps its last name: its attempts still show it.
CREATE TABLE services (
    sid TEXT PRIMARY KEY NOT NULL,
    friendly_name TEXT NOT NULL,
    fetched_at TEXT NOT NULL
);
