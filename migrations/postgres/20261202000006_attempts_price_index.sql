-- The attempts list priciest first (unpriced last) reads its page from this index, as on
-- sqlite, instead of sorting the whole range. On each month's partition.
CREATE INDEX attempts_by_price ON attempts (price DESC NULLS LAST, date_created DESC, sid DESC);
