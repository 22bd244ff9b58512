//! The HTTP API: one module per resource, each exporting `router()`, assembled here with the
//! middleware stack in one place.

pub mod accounts;
pub mod admin;
mod body_text;
pub mod engine_errors;
pub mod events;
pub mod extract;
pub mod fallback;
pub mod health;
pub mod idempotency;
pub mod institutions;
pub mod limits;
pub mod link_intents;
pub mod links;
pub mod openapi;
pub mod pagination;
pub mod rate_limit;
pub mod refresh_intents;
pub mod schemas;
pub mod webhook_deliveries;
pub mod webhook_endpoints;
pub mod widget;
pub mod widget_link_intents;
pub mod widget_pages;
pub mod wire;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn_with_state, map_response};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::engine::linking::Linker;
use crate::engine::EngineContext;
use crate::webhooks::WebhookContext;

/// What every handler can reach: the engine context (store, keys, connectors, config).
#[derive(Clone)]
pub struct AppState {
    /// Shared with this process's worker.
    pub engine: Arc<EngineContext>,
    /// This process's webhook dispatcher runs on it.
    pub webhooks: Arc<WebhookContext>,
}

impl std::ops::Deref for AppState {
    type Target = EngineContext;
    fn deref(&self) -> &EngineContext {
        &self.engine
    }
}

impl AppState {
    /// The link-creation service over this state.
    pub fn linking(&self) -> Linker<'_> {
        self.engine.linker()
    }
}

/// The whole API with its middleware.
pub fn router(state: AppState) -> Router {
    let max_body = state.config.max_body_bytes;
    Router::new()
        .merge(health::router())
        .merge(openapi::router())
        .merge(links::router())
        .merge(accounts::router())
        .merge(institutions::router())
        .merge(refresh_intents::router())
        .merge(events::router())
        .merge(webhook_endpoints::router())
        .merge(webhook_deliveries::router())
        .merge(widget::router())
        .merge(link_intents::router())
        .merge(widget_link_intents::router())
        .merge(widget_pages::router())
        .merge(crate::operator::metrics::router())
        .merge(admin::router())
        .merge(crate::dashboard::router())
        .fallback(fallback::not_found)
        .method_not_allowed_fallback(fallback::method_not_allowed)
        // Layers run outermost-last-added. From the outside in:
        // 1. tracing sees every request, including ones that panic (its span names the path,
        //    never the query string, and the request's trace id);
        // 2. a panic becomes a logged 500 with a Fintoc body, never a dropped connection;
        // 3. any non-JSON error the framework makes is rewritten into Fintoc's error JSON;
        // 4. admission: beyond the requests in flight a 503 costs no database work (so it
        //    comes before idempotency), and a body declared too large is refused unread;
        // 5. bodies over the limit are refused before a handler buffers them;
        // 6. the organization's rate limit (a 429 is never stored as an idempotent answer);
        // 7. idempotency runs last, so it sees the final response of the handler.
        .layer(from_fn_with_state(state.clone(), idempotency::idempotency))
        .layer(from_fn_with_state(
            (
                state.clone(),
                rate_limit::RateLimits::from_config(&state.config),
            ),
            rate_limit::limit,
        ))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(from_fn_with_state(
            limits::Admission::from_config(&state.config),
            limits::admit,
        ))
        .layer(map_response(fallback::ensure_json_errors))
        .layer(CatchPanicLayer::custom(fallback::panic_response))
        // Metrics count the final answer (a panic's 500 included) by the matched route.
        .layer(from_fn_with_state(
            state.clone(),
            crate::operator::http_metrics::track,
        ))
        // A request's `traceparent` is its handler's context (read inside the span below).
        .layer(axum::middleware::from_fn(crate::trace_context::accept))
        .layer(TraceLayer::new_for_http().make_span_with(crate::trace_context::request_span))
        .with_state(state)
}
