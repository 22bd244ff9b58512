-- Events made by `POST /v1/events/trigger` and `POST /v1/webhook_endpoints/{id}/test` are
-- samples: delivered like any event, but left out of `GET /v1/events` unless asked for, so a
-- consumer reading the list never mistakes one for a change of its data.
ALTER TABLE events ADD COLUMN sample INTEGER NOT NULL DEFAULT 0;
