-- Keys can be revoked (they stop working at once) and rotated: a rotated key keeps working
-- until `expires_at`, so clients switch to its replacement without a moment of refusals.
ALTER TABLE api_keys ADD COLUMN revoked_at BIGINT;
ALTER TABLE api_keys ADD COLUMN expires_at BIGINT;
