-- The retry funnel: each verification once, at the period, country, carrier and service of
-- its first attempt, by its path of channels (`sms>whatsapp`, a repeat once, at most three
-- steps then `+`), the bit set of every channel it used (as in rollup_verifications), its attempts (3 for three or more) and the attempt it converted at (0 for
-- none, 3 for the third or later). gap_N count the gaps between its consecutive attempts per
-- time bucket, conversion_N the time from its first attempt to its conversion (bucket bounds
-- 30 s, 1 min, 2 min, 5 min, 15 min). Filled by the rebuild that version 3 of the rollups asks for.
CREATE TABLE rollup_funnel (
    grain         TEXT NOT NULL,
    period        TEXT NOT NULL,
    country       TEXT NOT NULL,
    carrier       TEXT NOT NULL,
    service_sid   TEXT NOT NULL,
    path          TEXT NOT NULL,
    channels      INTEGER NOT NULL,
    attempts      INTEGER NOT NULL,
    converted_at  INTEGER NOT NULL,
    verifications INTEGER NOT NULL,
    gap_0 INTEGER NOT NULL, gap_1 INTEGER NOT NULL, gap_2 INTEGER NOT NULL,
    gap_3 INTEGER NOT NULL, gap_4 INTEGER NOT NULL, gap_5 INTEGER NOT NULL,
    conversion_0 INTEGER NOT NULL, conversion_1 INTEGER NOT NULL, conversion_2 INTEGER NOT NULL,
    conversion_3 INTEGER NOT NULL, conversion_4 INTEGER NOT NULL, conversion_5 INTEGER NOT NULL,
    PRIMARY KEY (grain, period, country, carrier, service_sid, path, channels, attempts, converted_at)
) WITHOUT ROWID;
