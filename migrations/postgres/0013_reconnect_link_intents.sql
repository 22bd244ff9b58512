-- A link intent can reconnect an existing link instead of creating one (docs/widget.md,
-- "Reconnecting a link"): the link it reconnects, by id (never its token). The widget then
-- logs in to that link's bank and, on success, replaces the link's sealed credentials.
ALTER TABLE link_intents ADD COLUMN reconnect_link_id TEXT REFERENCES links (id);
