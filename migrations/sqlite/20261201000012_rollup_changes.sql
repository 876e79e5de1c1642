-- Which periods each write of the rollups touched, so that a reader holding them in memory
-- re-reads only those: per grain and period, the last generation that changed it. A write that
-- replaces every row (a rebuild, a bulk load) empties the table and records its generation
-- in rollup_state.rebuilt_generation instead: a reader older than it reads everything again.
CREATE TABLE rollup_changes (
    grain      TEXT NOT NULL,
    period     TEXT NOT NULL,
    generation INTEGER NOT NULL,
    PRIMARY KEY (grain, period)
) WITHOUT ROWID;
CREATE INDEX rollup_changes_generation ON rollup_changes (generation);
ALTER TABLE rollup_state ADD COLUMN rebuilt_generation INTEGER NOT NULL DEFAULT 0;
-- A changed period's rows, found without a scan of the grain.
CREATE INDEX rollup_verifications_period ON rollup_verifications (grain, period);
CREATE INDEX irregular_attempts_period ON irregular_attempts (grain, period);
