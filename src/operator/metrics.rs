//! `GET /metrics`: this process's metrics and the database's gauges, in the Prometheus text
//! format (version 0.0.4), for a holder of the operator token.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::api::AppState;
use crate::error::ApiError;

/// The Prometheus text format's content type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(get_metrics))
}

/// The scrape.
pub async fn get_metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    super::require_bearer(&state.config, &state.keys, &headers)?;
    let metrics = state.store.metrics();
    metrics
        .read_database(&state.store)
        .await
        .map_err(ApiError::Internal)?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], metrics.render()).into_response())
}
