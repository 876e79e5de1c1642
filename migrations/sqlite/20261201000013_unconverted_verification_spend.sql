-- Spend on each cell's attempts whose verification has no converted attempt: what
-- verifications that never converted cost, read from the rollups rather than the raw rows.
-- Filled by the rebuild that version 4 of the rollups asks for.
ALTER TABLE rollup_attempts ADD COLUMN unconverted_verification_spend_micros INTEGER NOT NULL DEFAULT 0;
