-- Politeness towards banks: refresh schedules, per-institution session slots and circuit
-- breakers (docs/politeness.md).

-- When each link is next due for a scheduled refresh. A scheduler takes a due link with a
-- compare-and-set of `next_at` (only one process can move it from the value it read).
CREATE TABLE link_schedules (
    link_id  TEXT PRIMARY KEY REFERENCES links (id),
    next_at  INTEGER NOT NULL
);
CREATE INDEX link_schedules_due ON link_schedules (next_at);

-- One row per scheduled refresh: the primary key refuses a second intent for the same due
-- time of a link, whatever races.
CREATE TABLE scheduled_refreshes (
    link_id    TEXT NOT NULL,
    due_at     INTEGER NOT NULL,
    intent_id  TEXT NOT NULL,
    PRIMARY KEY (link_id, due_at)
);

-- The session slots of an institution: at most `max_concurrent_sessions` rows are used, so
-- at most that many refreshes hold one. A slot is free when nobody holds it, or when its first
-- lease has run out (expires_at) and its holder's job no longer holds the lease it was taken
-- with.
CREATE TABLE institution_slots (
    institution_id  TEXT NOT NULL,
    slot            INTEGER NOT NULL,
    intent_id       TEXT,
    lease_token     TEXT,
    expires_at      INTEGER,
    PRIMARY KEY (institution_id, slot)
);

-- The circuit breaker of each institution. status: up, degraded (failing, still tried),
-- down (open until probe_at; then one probe at a time is let through).
CREATE TABLE institution_health (
    institution_id  TEXT PRIMARY KEY,
    status          TEXT NOT NULL,
    since           INTEGER NOT NULL,
    failures        INTEGER NOT NULL DEFAULT 0,
    backoff_ms      INTEGER NOT NULL DEFAULT 0,
    probe_at        INTEGER,
    probe_until     INTEGER
);
