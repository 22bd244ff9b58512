//! The HTTP API: one module per resource, each exporting `router()`, assembled here with the
//! middleware stack in one place.

pub mod accounts;
pub mod extract;
pub mod fallback;
pub mod health;
pub mod idempotency;
pub mod links;
pub mod openapi;
pub mod pagination;
pub mod wire;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn_with_state, map_response};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::connectors::Registry;
use crate::crypto::MasterKey;
use crate::engine::linking::Linker;
use crate::store::Store;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Hashes tokens and seals credentials.
    pub keys: Arc<MasterKey>,
    /// Bank connectors by institution id.
    pub registry: Arc<Registry>,
    /// The process configuration.
    pub config: Arc<Config>,
}

impl AppState {
    /// The link-creation service over this state.
    pub fn linking(&self) -> Linker<'_> {
        Linker {
            store: &self.store,
            keys: &self.keys,
            registry: &self.registry,
        }
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
        .fallback(fallback::not_found)
        .method_not_allowed_fallback(fallback::method_not_allowed)
        // Layers run outermost-last-added. From the outside in:
        // 1. tracing sees every request, including ones that panic;
        // 2. a panic becomes a logged 500 with a Fintoc body, never a dropped connection;
        // 3. any non-JSON error the framework makes is rewritten into Fintoc's error JSON;
        // 4. bodies over the limit are refused before a handler buffers them;
        // 5. idempotency runs last, so it sees the final response of the handler.
        .layer(from_fn_with_state(state.clone(), idempotency::idempotency))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(map_response(fallback::ensure_json_errors))
        .layer(CatchPanicLayer::custom(fallback::panic_response))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
