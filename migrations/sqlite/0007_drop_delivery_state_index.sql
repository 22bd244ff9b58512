-- Claims read deliveries through the per-endpoint indexes of 0006; nothing reads this one any
-- more. Worse, SQLite's planner (which has no statistics here) took it for the claim's
-- `state = 'pending' AND id IN (…)` whenever the list held more than a few ids, and then read
-- the whole pending backlog on every claim: a 100,000-delivery backlog drained at half the rate
-- of a 30,000 one. Without it, those statements look ids up by primary key, and every change
-- of a delivery's state has one index less to rewrite.
DROP INDEX webhook_deliveries_due;
