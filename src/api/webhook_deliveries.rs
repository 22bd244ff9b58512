//! Our additions for operating webhook receivers: the attempt log (per endpoint and per
//! event), resending one event to an endpoint, and recovering an endpoint's failed deliveries.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::events::{event_of, parse_time};
use super::extract::{JsonBody, Query, SecretKey};
use super::links::required;
use super::pagination::{PageQuery, PageResponse};
use super::schemas;
use super::webhook_endpoints::endpoint_of;
use super::wire::ErrorBody;
use super::AppState;
use crate::domain::*;
use crate::error::ApiError;

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/webhook_endpoints/{id}/attempts",
            get(list_endpoint_attempts),
        )
        .route("/v1/webhook_endpoints/{id}/resend", post(resend_event))
        .route("/v1/webhook_endpoints/{id}/recover", post(recover_endpoint))
        .route("/v1/events/{id}/attempts", get(list_event_attempts))
}

/// One attempt, for the attempt log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptOut {
    /// `wha_…`
    pub id: String,
    /// Always `webhook_attempt`.
    pub object: &'static str,
    /// The delivery it belongs to.
    pub delivery_id: String,
    /// The endpoint.
    pub webhook_endpoint_id: String,
    /// The event.
    pub event_id: String,
    /// When.
    pub attempted_at: String,
    /// The receiver's status code, when it answered.
    pub status_code: Option<u16>,
    /// Milliseconds from sending to the end of the answer.
    pub latency_ms: i64,
    /// The start of the answer (1 KiB at most).
    pub response_body: Option<String>,
    /// Why there was no answer.
    pub error: Option<String>,
    /// 2xx.
    pub succeeded: bool,
}

impl From<&Attempt> for AttemptOut {
    fn from(a: &Attempt) -> Self {
        Self {
            id: a.id.to_string(),
            object: "webhook_attempt",
            delivery_id: a.delivery_id.to_string(),
            webhook_endpoint_id: a.endpoint_id.to_string(),
            event_id: a.event_id.to_string(),
            attempted_at: a.attempted_at.to_wire(),
            status_code: a.status_code,
            latency_ms: a.latency_ms,
            response_body: a.response_body.clone(),
            error: a.error.clone(),
            succeeded: a.succeeded,
        }
    }
}

async fn attempts_page(
    state: &AppState,
    endpoint: Option<&WebhookEndpointId>,
    event: Option<&EventId>,
    page: PageQuery,
    headers: HeaderMap,
    uri: Uri,
) -> Result<PageResponse, ApiError> {
    let request = page.validate()?;
    let page = state.store.list_attempts(endpoint, event, request).await?;
    Ok(PageResponse::new(
        &page,
        AttemptOut::from,
        request,
        &state.config,
        &headers,
        uri,
    ))
}

/// Our addition: the attempts made to this endpoint, newest first.
#[utoipa::path(get, path = "/v1/webhook_endpoints/{id}/attempts", tag = "webhook_endpoints",
    params(("id" = String, Path), PageQuery),
    responses((status = 200, body = [AttemptOut]), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_endpoint_attempts(
    State(state): State<AppState>,
    SecretKey(principal): SecretKey,
    Path(id): Path<String>,
    Query(page): Query<PageQuery>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<PageResponse, ApiError> {
    let endpoint = endpoint_of(&state, &principal, &id).await?;
    attempts_page(&state, Some(&endpoint.id), None, page, headers, uri).await
}

/// Our addition: the attempts made to deliver this event, newest first.
#[utoipa::path(get, path = "/v1/events/{id}/attempts", tag = "events",
    params(("id" = String, Path), PageQuery),
    responses((status = 200, body = [AttemptOut]), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_event_attempts(
    State(state): State<AppState>,
    SecretKey(principal): SecretKey,
    Path(id): Path<String>,
    Query(page): Query<PageQuery>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<PageResponse, ApiError> {
    let event = event_of(&state, &principal, &id).await?;
    attempts_page(&state, None, Some(&event.id), page, headers, uri).await
}

/// Body of `POST /v1/webhook_endpoints/{id}/resend`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResendIn {
    /// The event to deliver again.
    #[schema(required = true, nullable = false, value_type = String, pattern = r"\S")]
    pub event_id: Option<String>,
}

/// Our addition: delivers one event to this endpoint again.
#[utoipa::path(post, path = "/v1/webhook_endpoints/{id}/resend", tag = "webhook_endpoints",
    params(("id" = String, Path)), request_body = ResendIn,
    responses((status = 202, description = "Queued: `{delivery_id}`"), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn resend_event(
    State(state): State<AppState>,
    SecretKey(principal): SecretKey,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ResendIn>,
) -> Result<Response, ApiError> {
    let endpoint = endpoint_of(&state, &principal, &id).await?;
    let event_id = required(&body.event_id, "event_id")?;
    let event = event_of(&state, &principal, event_id).await?;
    let delivery = state.store.queue_delivery(&event.id, &endpoint.id).await?;
    state.webhook_wake.notify_one();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"delivery_id": delivery.as_str()})),
    )
        .into_response())
}

/// Body of `POST /v1/webhook_endpoints/{id}/recover`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RecoverIn {
    /// Deliveries that failed for good since this time (ISO 8601 date or date-time) are
    /// queued again.
    #[schema(required = true, nullable = false, schema_with = schemas::date_or_time)]
    pub since: Option<String>,
}

/// Our addition: queues again every delivery to this endpoint that failed since a time.
#[utoipa::path(post, path = "/v1/webhook_endpoints/{id}/recover", tag = "webhook_endpoints",
    params(("id" = String, Path)), request_body = RecoverIn,
    responses((status = 202, description = "`{recovered}`: how many were queued"), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn recover_endpoint(
    State(state): State<AppState>,
    SecretKey(principal): SecretKey,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RecoverIn>,
) -> Result<Response, ApiError> {
    let endpoint = endpoint_of(&state, &principal, &id).await?;
    // Not trimmed: the document's date and date-time formats have no blanks either.
    let since = parse_time("since", body.since.as_deref())?
        .ok_or_else(|| ApiError::missing_param("since"))?;
    let recovered = state
        .store
        .recover_failed_deliveries(&endpoint.id, since)
        .await?;
    state.webhook_wake.notify_one();
    Ok((StatusCode::ACCEPTED, Json(json!({"recovered": recovered}))).into_response())
}
