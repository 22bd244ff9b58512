-- Events (a transactional outbox: written in the transaction of the change that causes them),
-- webhook endpoints, and the deliveries of events to endpoints with their attempts.

CREATE TABLE events (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL,
    mode             TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    -- For filtering the events list by link.
    link_id          TEXT,
    -- The event's `data`, serialized once: every delivery sends the same bytes.
    data             TEXT NOT NULL,
    created_at       BIGINT NOT NULL
);
CREATE INDEX events_by_owner ON events (organization_id, mode, created_at, id);

CREATE TABLE webhook_endpoints (
    id                TEXT PRIMARY KEY,
    organization_id   TEXT NOT NULL,
    mode              TEXT NOT NULL,
    url               TEXT NOT NULL,
    description       TEXT,
    -- JSON array of event types, or ["*"].
    enabled_events    TEXT NOT NULL,
    secret            BYTEA NOT NULL,
    disabled          SMALLINT NOT NULL DEFAULT 0,
    disabled_reason   TEXT,
    -- Start of the current run of failed deliveries (NULL after a success).
    failing_since     BIGINT,
    created_at        BIGINT NOT NULL,
    deleted_at        BIGINT
);
CREATE INDEX webhook_endpoints_by_owner ON webhook_endpoints (organization_id, mode, created_at, id);

-- Which event types an endpoint receives ('*' for all), for exact matching in SQL.
CREATE TABLE webhook_endpoint_events (
    endpoint_id  TEXT NOT NULL REFERENCES webhook_endpoints (id),
    event_type   TEXT NOT NULL,
    PRIMARY KEY (endpoint_id, event_type)
);

-- One delivery of one event to one endpoint (a resend is a new delivery).
-- state: pending (due at next_attempt_at), delivered, failed (gave up), canceled.
CREATE TABLE webhook_deliveries (
    id                TEXT PRIMARY KEY,
    event_id          TEXT NOT NULL REFERENCES events (id),
    endpoint_id       TEXT NOT NULL REFERENCES webhook_endpoints (id),
    state             TEXT NOT NULL,
    attempts          BIGINT NOT NULL DEFAULT 0,
    next_attempt_at   BIGINT NOT NULL,
    lease_token       TEXT,
    lease_expires_at  BIGINT,
    created_at        BIGINT NOT NULL,
    finished_at       BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, created_at);
CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries (event_id);

-- Every attempt: when, how it went, how long it took, what the receiver said (truncated).
CREATE TABLE webhook_attempts (
    id                TEXT PRIMARY KEY,
    delivery_id       TEXT NOT NULL REFERENCES webhook_deliveries (id),
    endpoint_id       TEXT NOT NULL,
    event_id          TEXT NOT NULL,
    attempted_at      BIGINT NOT NULL,
    status_code       INTEGER,
    latency_ms        BIGINT NOT NULL,
    response_body     TEXT,
    error             TEXT,
    succeeded         SMALLINT NOT NULL
);
CREATE INDEX webhook_attempts_by_endpoint ON webhook_attempts (endpoint_id, attempted_at);
CREATE INDEX webhook_attempts_by_event ON webhook_attempts (event_id, attempted_at);
