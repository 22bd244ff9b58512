//! Admission: a bound on the requests one process handles at once, bodies refused by their
//! declared size, and the error for a body that stopped arriving.
//!
//! A saturated server answers at once rather than queueing: beyond `max_requests_in_flight` a
//! request gets 503 `server_overloaded` with `Retry-After`, so latency stays bounded and clients
//! back off. `/healthz` and `/readyz` are never counted or refused, so probes keep telling a
//! busy process from a dead one.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use super::extract::body_too_large;
use crate::config::Config;
use crate::error::{ApiError, ErrorType};

/// The admission state of one process (shared by all its connections).
#[derive(Clone)]
pub struct Admission {
    in_flight: Arc<Semaphore>,
    retry_after: HeaderValue,
    max_body_bytes: u64,
}

impl Admission {
    /// Admission under a configuration's limits.
    pub fn from_config(config: &Config) -> Self {
        Self {
            in_flight: Arc::new(Semaphore::new(config.max_requests_in_flight)),
            retry_after: HeaderValue::from(config.overload_retry_after_secs),
            max_body_bytes: u64::try_from(config.max_body_bytes).unwrap_or(u64::MAX),
        }
    }
}

/// The middleware: see the module docs.
pub async fn admit(State(admission): State<Admission>, request: Request, next: Next) -> Response {
    if declared_length(&request).is_some_and(|n| n > admission.max_body_bytes) {
        // Refused before a byte of the body is read, rather than after waiting for it.
        return body_too_large().into_response();
    }
    if matches!(request.uri().path(), "/healthz" | "/readyz") {
        return next.run(request).await;
    }
    let Ok(_permit) = admission.in_flight.clone().try_acquire_owned() else {
        return overloaded(&admission.retry_after);
    };
    next.run(request).await
}

fn declared_length(request: &Request) -> Option<u64> {
    request
        .headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

fn overloaded(retry_after: &HeaderValue) -> Response {
    let mut response = ApiError::client(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorType::Api,
        "server_overloaded",
        "The server is handling too many requests; retry after the time in Retry-After.",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, retry_after.clone());
    response
}

/// The error for a request body that went silent for `body_read_timeout_secs`.
pub fn body_timed_out() -> ApiError {
    ApiError::client(
        StatusCode::REQUEST_TIMEOUT,
        ErrorType::InvalidRequest,
        "request_timeout",
        "The request body stopped arriving before it was complete.",
    )
}

/// Whether reading a body failed because the body read timeout fired (the error is wrapped a
/// few times on its way from the body to the extractor).
pub fn is_body_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        current = e.source();
    }
    false
}
