-- Link intents: one person's attempt to connect a bank through the widget (docs/widget.md).
-- Tokens are stored as keyed hashes; what must be shown again later (the exchange token, to the
-- widget's onSuccess; the link token, once, at the exchange) is sealed under the master key
-- with the intent id as associated data. Nothing here is plaintext secret.

CREATE TABLE link_intents (
    id                     TEXT PRIMARY KEY,
    organization_id        TEXT NOT NULL REFERENCES organizations (id),
    mode                   TEXT NOT NULL,
    product                TEXT NOT NULL,
    country                TEXT NOT NULL,
    holder_type            TEXT NOT NULL,
    -- created, succeeded (a link was made), failed (too many failed logins).
    status                 TEXT NOT NULL,
    widget_token_hash      TEXT NOT NULL,
    exchange_token_hash    TEXT NOT NULL,
    exchange_token_sealed  BLOB NOT NULL,
    -- Both tokens stop working at this time (Fintoc's exchange_token_expires_at).
    expires_at             BIGINT NOT NULL,
    -- Logins the bank refused, and logins that asked for a second factor.
    login_attempts         BIGINT NOT NULL DEFAULT 0,
    -- While the bank waits for a second factor: the institution, the method, the hint to show,
    -- and the credentials with the bank's challenge, sealed together.
    institution_id         TEXT,
    mfa_kind               TEXT,
    mfa_hint               TEXT,
    pending_login          BLOB,
    mfa_expires_at         BIGINT,
    mfa_attempts           BIGINT NOT NULL DEFAULT 0,
    -- Once succeeded: the link, and its token sealed until the (single) exchange.
    link_id                TEXT REFERENCES links (id),
    link_token_sealed      BLOB,
    exchanged_at           BIGINT,
    created_at             BIGINT NOT NULL
);
CREATE INDEX link_intents_by_owner ON link_intents (organization_id, mode, created_at, id);
