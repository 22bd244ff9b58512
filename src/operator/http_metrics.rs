//! The middleware that counts and times every answered request by its route template.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use crate::api::AppState;

/// Records the request in the metrics once its answer is ready. The route is the matched
/// template, or `unmatched`: a raw path could hold a token and would give every id a series
/// of its own. Parameters are written `:id` (`/v1/links/:id`), the usual form in route labels:
/// some text-format parsers (`prometheus-parse` among them) end a label set at the first `}`,
/// even inside a quoted value.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request.extensions().get::<MatchedPath>().map_or_else(
        || "unmatched".to_owned(),
        |p| p.as_str().replace('{', ":").replace('}', ""),
    );
    // Any other method gets one series, not one per invented name.
    let method = match *request.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    let response = next.run(request).await;
    state.store.metrics().http_request(
        &route,
        method,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}
