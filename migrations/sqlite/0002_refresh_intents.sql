-- Refresh intents, their durable jobs, and per-account results.

CREATE TABLE refresh_intents (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations (id),
    mode             TEXT NOT NULL,
    link_id          TEXT NOT NULL REFERENCES links (id),
    refresh_type     TEXT NOT NULL,
    -- Wire status: created, succeeded, failed, rejected.
    status           TEXT NOT NULL,
    -- Test mode only: the outcome the client forced with result_status.
    forced_result    TEXT,
    new_movements    BIGINT NOT NULL DEFAULT 0,
    public_error     TEXT,
    -- Our addition, for people: why it failed (mfa_expired, deadline_exceeded, ...).
    failure_reason   TEXT,
    -- MFA: the widget token's keyed hash, the challenge while parked (sealed), its expiry.
    widget_token_hash TEXT,
    -- The widget token itself, sealed, so retrieving the intent can show requires_mfa again.
    widget_token_sealed BLOB,
    mfa_kind         TEXT,
    mfa_hint         TEXT,
    mfa_challenge    BLOB,
    mfa_session      BLOB,
    mfa_expires_at   BIGINT,
    mfa_attempts     BIGINT NOT NULL DEFAULT 0,
    mfa_completed    INTEGER NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    started_at       BIGINT,
    finished_at      BIGINT,
    deadline_at      BIGINT NOT NULL,
    -- Fixed at creation so a retried or resumed job asks the bank the same question:
    -- how many refreshes the link had before, and the day the refresh is for.
    refresh_number   BIGINT NOT NULL,
    fetch_day        BIGINT NOT NULL
);
-- At most one intent in progress per link, enforced by the database whatever races.
CREATE UNIQUE INDEX refresh_intents_one_in_progress ON refresh_intents (link_id)
    WHERE status = 'created';
CREATE INDEX refresh_intents_by_link ON refresh_intents (link_id, created_at, id);

-- The durable job of each intent. state: ready (claimable at run_after), running (leased),
-- parked (waiting for MFA until run_after = the challenge's expiry), done.
CREATE TABLE refresh_jobs (
    intent_id         TEXT PRIMARY KEY REFERENCES refresh_intents (id),
    state             TEXT NOT NULL,
    run_after         BIGINT NOT NULL,
    lease_token       TEXT,
    lease_owner       TEXT,
    lease_expires_at  BIGINT,
    attempts          BIGINT NOT NULL DEFAULT 0,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX refresh_jobs_claimable ON refresh_jobs (state, run_after);

-- One result per account per intent (the webhook issue emits one event per row).
CREATE TABLE account_refresh_results (
    id                 TEXT PRIMARY KEY,
    refresh_intent_id  TEXT NOT NULL REFERENCES refresh_intents (id),
    account_id         TEXT NOT NULL REFERENCES accounts (id),
    status             TEXT NOT NULL,
    public_error       TEXT,
    new_movements      BIGINT NOT NULL,
    modified_movements BIGINT NOT NULL,
    removed_movements  BIGINT NOT NULL,
    created_at         BIGINT NOT NULL,
    UNIQUE (refresh_intent_id, account_id)
);

-- Movements a refresh modified or removed, kept for movements_modified/removed events.
CREATE TABLE movement_changes (
    account_result_id  TEXT NOT NULL REFERENCES account_refresh_results (id),
    movement_id        TEXT NOT NULL REFERENCES movements (id),
    change             TEXT NOT NULL,
    PRIMARY KEY (account_result_id, movement_id)
);

-- Whether logging in to this link's bank needs a second factor (sms, device, app), learned when
-- the link was created; a refresh intent of such a link answers with requires_mfa.
ALTER TABLE links ADD COLUMN login_mfa TEXT;
