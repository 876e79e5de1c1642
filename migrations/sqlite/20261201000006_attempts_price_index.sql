-- The attempts list by price, priciest first: keyset pages walk this index in order.
CREATE INDEX attempts_by_price ON attempts (price DESC, date_created DESC, sid DESC);
