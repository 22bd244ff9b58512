//! API rate limits: a token bucket (GCRA, from `governor`) per organization and mode, with
//! Fintoc's numbers as defaults: 100 requests a second for the API, and 100 per 130 s for the
//! widget's connection endpoints (`/v1/widget/link_intents/…`), each bucket on its own.
//!
//! Every answer to a request with a valid key carries the IETF RateLimit fields of its bucket:
//! `RateLimit-Limit` (the bucket's size), `RateLimit-Remaining` (requests left now) and
//! `RateLimit-Reset` (seconds until the bucket is full again). Over the limit the answer is
//! 429 `rate_limit_exceeded` (`invalid_request_error`, which the official clients raise as
//! their `InvalidRequestError`) with `Retry-After` and `error.retry_after_seconds`.
//!
//! The buckets live in this process's memory: with N API processes behind a balancer an
//! organization may make N times the configured rate in all, so an operator gives each
//! process 1/N of it (docs/politeness.md). A request without a valid key is not counted; its
//! handler answers 401.
//!
//! The key is authenticated here (through the key cache) and the principal left in the
//! request's extensions, where the key extractors find it, so a request is authenticated once.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::{Quota, RateLimiter};

use super::AppState;
use crate::config::Config;
use crate::domain::Mode;
use crate::error::{ApiError, ErrorType};

type Key = (String, Mode);
type Limiter = RateLimiter<
    Key,
    governor::state::keyed::DefaultKeyedStateStore<Key>,
    DefaultClock,
    StateInformationMiddleware,
>;

/// One kind of bucket: its limiter and what its headers say.
struct Bucket {
    limiter: Limiter,
    limit: u32,
    /// Time for one request to come back.
    per_request: Duration,
}

impl Bucket {
    /// `limit` requests per `period`; `None` when `limit` is 0 (no limit).
    fn new(limit: u32, period: Duration) -> Option<Self> {
        let burst = NonZeroU32::new(limit)?;
        let per_request = period / limit;
        let quota =
            Quota::with_period(per_request.max(Duration::from_nanos(1)))?.allow_burst(burst);
        Some(Self {
            limiter: RateLimiter::dashmap(quota).with_middleware::<StateInformationMiddleware>(),
            limit,
            per_request,
        })
    }
}

/// The rate limits of one process, shared by all its connections.
#[derive(Clone)]
pub struct RateLimits {
    api: Option<Arc<Bucket>>,
    widget: Option<Arc<Bucket>>,
}

impl RateLimits {
    /// The limits a configuration sets.
    pub fn from_config(config: &Config) -> Self {
        Self {
            api: Bucket::new(config.api_rate_limit_per_sec, Duration::from_secs(1)).map(Arc::new),
            widget: Bucket::new(
                config.widget_rate_limit,
                Duration::from_secs(config.widget_rate_limit_period_secs),
            )
            .map(Arc::new),
        }
    }
}

/// The middleware: see the module docs.
pub async fn limit(
    State((state, limits)): State<(AppState, RateLimits)>,
    mut request: Request,
    next: Next,
) -> Response {
    let widget_connection = request.uri().path().starts_with("/v1/widget/link_intents");
    let bucket = if widget_connection {
        &limits.widget
    } else {
        &limits.api
    };
    let Some(bucket) = bucket else {
        return next.run(request).await;
    };
    let principal = match super::extract::authenticate(&state, request.headers()).await {
        Ok(Some(principal)) => principal,
        // No valid key: the handler says so. A failed lookup is the handler's to report too.
        Ok(None) | Err(_) => return next.run(request).await,
    };
    let key = (principal.organization_id.to_string(), principal.mode);
    request.extensions_mut().insert(principal);
    match bucket.limiter.check_key(&key) {
        Ok(snapshot) => {
            let remaining = snapshot.remaining_burst_capacity();
            let reset = bucket.per_request * (bucket.limit.saturating_sub(remaining));
            let mut response = next.run(request).await;
            set_fields(response.headers_mut(), bucket.limit, remaining, reset);
            response
        }
        Err(not_until) => {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let mut response = exceeded(wait).into_response();
            set_fields(response.headers_mut(), bucket.limit, 0, wait);
            response
        }
    }
}

/// Whole seconds, rounded up (a client that waits that long finds a request free).
fn ceil_secs(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

fn set_fields(headers: &mut HeaderMap, limit: u32, remaining: u32, reset: Duration) {
    headers.insert("ratelimit-limit", HeaderValue::from(limit));
    headers.insert("ratelimit-remaining", HeaderValue::from(remaining));
    headers.insert("ratelimit-reset", HeaderValue::from(ceil_secs(reset)));
}

fn exceeded(wait: Duration) -> ApiError {
    let seconds = ceil_secs(wait).max(1);
    ApiError::client(
        StatusCode::TOO_MANY_REQUESTS,
        ErrorType::InvalidRequest,
        "rate_limit_exceeded",
        "Too many requests for this organization; retry after the time in Retry-After.",
    )
    .with_extra("retry_after_seconds", serde_json::json!(seconds))
}
