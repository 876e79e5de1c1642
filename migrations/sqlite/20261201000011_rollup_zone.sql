-- The reporting time zone the day-grain rollups are keyed by: a snapshot opened with another
-- zone has its rollups rebuilt.
ALTER TABLE rollup_state ADD COLUMN zone TEXT NOT NULL DEFAULT 'UTC';
