-- Foundation schema. Column types are limited to INTEGER/BIGINT, TEXT and BLOB so one set of
-- queries serves SQLite and PostgreSQL (see docs/storage.md): timestamps are epoch
-- milliseconds (BIGINT), booleans 0/1 (INTEGER), dates midnight-UTC milliseconds.

CREATE TABLE organizations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

-- Keys are stored as keyed hashes; `hint` (prefix and last 4 characters) lets a person tell
-- keys apart without revealing them.
CREATE TABLE api_keys (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations (id),
    mode             TEXT NOT NULL,
    kind             TEXT NOT NULL,
    key_hash         TEXT NOT NULL UNIQUE,
    hint             TEXT NOT NULL,
    created_at       BIGINT NOT NULL
);

CREATE TABLE links (
    id                   TEXT PRIMARY KEY,
    organization_id      TEXT NOT NULL REFERENCES organizations (id),
    mode                 TEXT NOT NULL,
    token_hash           TEXT NOT NULL,
    institution_id       TEXT NOT NULL,
    institution_name     TEXT NOT NULL,
    institution_country  TEXT NOT NULL,
    holder_type          TEXT NOT NULL,
    holder_id            TEXT NOT NULL,
    username             TEXT NOT NULL,
    credentials          BYTEA NOT NULL,
    active               SMALLINT NOT NULL,
    credential_status    TEXT NOT NULL,
    refresh_status       TEXT NOT NULL,
    last_time_refreshed  BIGINT,
    refresh_count        BIGINT NOT NULL DEFAULT 0,
    created_at           BIGINT NOT NULL,
    deleted_at           BIGINT
);
CREATE INDEX links_by_owner ON links (organization_id, mode, created_at, id);

CREATE TABLE accounts (
    id                 TEXT PRIMARY KEY,
    link_id            TEXT NOT NULL REFERENCES links (id),
    bank_id            TEXT NOT NULL,
    position           BIGINT NOT NULL,
    name               TEXT NOT NULL,
    official_name      TEXT NOT NULL,
    number             TEXT NOT NULL,
    holder_id          TEXT NOT NULL,
    holder_name        TEXT NOT NULL,
    account_type       TEXT NOT NULL,
    currency           TEXT NOT NULL,
    balance_available  BIGINT NOT NULL,
    balance_current    BIGINT NOT NULL,
    balance_limit      BIGINT NOT NULL,
    refreshed_at       BIGINT,
    refresh_status     TEXT NOT NULL,
    next_refresh       BIGINT,
    removed_from_link  SMALLINT NOT NULL DEFAULT 0,
    created_at         BIGINT NOT NULL,
    UNIQUE (link_id, bank_id)
);

CREATE TABLE movements (
    id                 TEXT PRIMARY KEY,
    account_id         TEXT NOT NULL REFERENCES accounts (id),
    bank_id            TEXT NOT NULL,
    amount             BIGINT NOT NULL,
    currency           TEXT NOT NULL,
    description        TEXT NOT NULL,
    post_date          BIGINT NOT NULL,
    transaction_date   BIGINT,
    movement_type      TEXT NOT NULL,
    status             TEXT NOT NULL,
    pending            SMALLINT NOT NULL,
    reference_id       TEXT,
    comment            TEXT,
    sender_account     TEXT,
    recipient_account  TEXT,
    removed_at         BIGINT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    UNIQUE (account_id, bank_id)
);
CREATE INDEX movements_by_account_date ON movements (account_id, post_date, id);

-- First response to each Idempotency-Key, per organization and mode. status_code is NULL
-- while the first request is still running.
CREATE TABLE idempotency_keys (
    organization_id  TEXT NOT NULL,
    mode             TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL,
    fingerprint      TEXT NOT NULL,
    status_code      INTEGER,
    response_body    TEXT,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (organization_id, mode, idempotency_key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
