-- Listing an account's movements reads only the ones the bank has not removed, newest first,
-- often only confirmed ones. This partial index holds exactly those rows, with every column the
-- filters and the order use, so counting a list and skipping to a deep page read the index
-- alone; the table is read only for the rows of the page itself.
CREATE INDEX movements_listed ON movements (account_id, post_date, id, status)
    WHERE removed_at IS NULL;
