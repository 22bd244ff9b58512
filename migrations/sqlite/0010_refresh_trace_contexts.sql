-- The W3C trace context (`traceparent`) a refresh intent was created in, so the worker that
-- runs it, maybe in another process, continues the same trace and passes it on to connectors
-- and webhook receivers. Only intents created by a request that carried one have a row.
CREATE TABLE refresh_trace_contexts (
    intent_id    TEXT PRIMARY KEY,
    traceparent  TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
