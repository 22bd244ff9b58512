-- A number that goes up in the same transaction as every write of an account's movements (a
-- recording's update of the account, the benchmark's seed). A page of movements reads it in
-- the same statement as its count, and counts only when it differs from the version the
-- process last counted at: an account's unchanged movements are not counted again for every
-- page (see `store/count_cache.rs`).
ALTER TABLE accounts ADD COLUMN movements_version BIGINT NOT NULL DEFAULT 0;
