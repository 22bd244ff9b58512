-- Claiming webhook deliveries works per endpoint: its oldest due deliveries in order, and how
-- many it has in flight (leased). These two indexes answer both without reading the backlog.
CREATE INDEX webhook_deliveries_endpoint_due
    ON webhook_deliveries (endpoint_id, state, next_attempt_at, id);
CREATE INDEX webhook_deliveries_endpoint_leased
    ON webhook_deliveries (endpoint_id, lease_expires_at)
    WHERE lease_expires_at IS NOT NULL;
