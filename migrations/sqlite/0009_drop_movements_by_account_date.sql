-- A recording's read of an account's stored movements by date now skips the ones the bank
-- already removed (they matter only when the bank returns them, and that read finds them by
-- bank id), so it reads `movements_listed`. Nothing else read this index, and every movement a
-- recording inserts had to be added to it: one B-tree of five per row (BENCHMARKS.md, change
-- 48).
DROP INDEX movements_by_account_date;
