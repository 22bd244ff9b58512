//! `/v1/events`: list, retrieve, trigger (test mode). The events a refresh emits are made by
//! the engine ([`crate::engine::events`]).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::extract::{JsonBody, Query, SecretKey};
use super::pagination::{PageQuery, PageResponse};
use super::schemas;
use super::wire::ErrorBody;
use super::AppState;
use crate::domain::*;
use crate::error::ApiError;
use crate::store::EventFilter;

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/events", get(list_events))
        .route("/v1/events/trigger", post(trigger_event))
        .route("/v1/events/{id}", get(get_event))
}

/// An Event object.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    /// `evt_…`
    pub id: String,
    /// Always `event`.
    pub object: &'static str,
    /// e.g. `account.refresh_intent.succeeded`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// `test` or `live`.
    pub mode: String,
    /// When the change happened.
    pub created_at: String,
    /// The object the event is about.
    #[schema(value_type = Object)]
    pub data: Value,
    /// `true` on samples (`POST /v1/events/trigger`, an endpoint's test); absent on real
    /// events, which are exactly Fintoc's.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sample: bool,
}

impl From<&Event> for EventOut {
    fn from(event: &Event) -> Self {
        Self {
            id: event.id.to_string(),
            object: "event",
            event_type: event.event_type.clone(),
            mode: event.mode.as_str().to_owned(),
            created_at: event.created_at.to_wire(),
            data: serde_json::from_str(&event.data).unwrap_or(Value::Null),
            sample: event.sample,
        }
    }
}

/// A plausible `data` for a test event of `event_type`.
pub fn sample_data(event_type: EventType) -> Value {
    // Ids of the real shapes, new for every sample, so a receiver that stores what it gets
    // never meets the same id twice; dates as a real refresh writes them.
    let intent_id = RefreshIntentId::generate();
    let account_id = AccountId::generate();
    let link_id = LinkId::generate();
    let now = Timestamp::now().to_wire();
    let today = Timestamp::start_of(chrono::Utc::now().date_naive()).to_wire();
    let intent = |status: &str, error: Value| {
        json!({
            "id": RefreshIntentId::generate().as_str(), "object": "refresh_intent",
            "refreshed_object": "account", "refreshed_object_id": account_id.as_str(),
            "status": status, "public_error": error, "created_at": now,
            "type": "only_last", "new_movements": if status == "succeeded" { 3 } else { 0 },
            "refresh_intent_id": intent_id.as_str(),
        })
    };
    let movement = json!({
        "id": MovementId::generate().as_str(), "object": "movement", "amount": 59400,
        "comment": null, "currency": "CLP", "description": "Traspaso de: Fintoc SpA",
        "pending": false, "post_date": today, "recipient_account": null,
        "reference_id": "123740123", "sender_account": null, "status": "confirmed",
        "transaction_date": null, "type": "transfer",
    });
    let link = |refresh_status: &str, status: &str| {
        json!({
            "id": link_id.as_str(), "object": "link", "accounts": null, "active": true,
            "created_at": now, "holder_id": "416148503", "holder_type": "individual",
            "institution": {"id": "cl_banco_sandbox", "name": "Banco Sandbox Chile", "country": "cl"},
            "last_time_refreshed": null, "link_token": null, "mode": "test",
            "refresh_status": refresh_status, "status": status, "username": "416148503",
        })
    };
    let changes = |key: &str| json!({"account_id": account_id.as_str(), key: [movement], "refresh_intent_id": intent_id.as_str()});
    match event_type {
        EventType::AccountRefreshSucceeded => intent("succeeded", Value::Null),
        EventType::AccountRefreshFailed => intent("failed", json!("retryable_error")),
        EventType::AccountRefreshRejected => intent("rejected", json!("invalid_credentials_error")),
        EventType::AccountMovementsModified => changes("movements_changed"),
        EventType::AccountMovementsRemoved => changes("movements_removed"),
        EventType::LinkCredentialsChanged => link("interrupted", "login_required"),
        EventType::LinkCreated => link("refreshing", "active"),
        EventType::LinkRefreshSucceeded
        | EventType::LinkRefreshFailed
        | EventType::LinkRefreshRejected => {
            let status = event_type
                .as_str()
                .rsplit('.')
                .next()
                .unwrap_or("succeeded");
            let mut data = intent(
                status,
                match status {
                    "failed" => json!("retryable_error"),
                    "rejected" => json!("invalid_credentials_error"),
                    _ => Value::Null,
                },
            );
            data["id"] = json!(intent_id.as_str());
            data["refreshed_object"] = json!("link");
            data["refreshed_object_id"] = json!(link_id.as_str());
            data["requires_mfa"] = Value::Null;
            if let Some(fields) = data.as_object_mut() {
                fields.remove("refresh_intent_id");
            }
            data
        }
    }
}

/// Parses a client's event type, with the Fintoc error for an unknown one.
pub fn parse_event_type(name: Option<&str>) -> Result<EventType, ApiError> {
    let name = name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::missing_param("type"))?;
    EventType::parse(name).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_webhook_subscription",
            format!("Unknown event type {}", crate::error::truncate(name, 80)),
        )
        .with_param("type")
    })
}

/// Filters of `GET /v1/events`. Each one, when present, must hold a value of its documented
/// set: an empty string is refused like any other value outside it.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Only events of this type.
    #[serde(rename = "type")]
    #[param(rename = "type", schema_with = schemas::event_type)]
    pub event_type: Option<String>,
    /// Only events about this link (`link_…`).
    #[param(schema_with = schemas::link_id)]
    pub link_id: Option<String>,
    /// Only events created at or after this time (ISO 8601 date or date-time).
    #[param(schema_with = schemas::date_or_time)]
    pub since: Option<String>,
    /// `true` to list samples too (events of `POST /v1/events/trigger` and of endpoint tests),
    /// which are left out otherwise.
    #[param(value_type = Option<bool>)]
    pub include_samples: Option<String>,
    /// Only events created before this time (ISO 8601 date or date-time).
    #[param(schema_with = schemas::date_or_time)]
    pub until: Option<String>,
}

/// Parses an ISO 8601 date or date-time parameter; present but empty is refused.
pub fn parse_time(name: &str, value: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    let Some(text) = value else {
        return Ok(None);
    };
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(Some(Timestamp::from_datetime(
            at.with_timezone(&chrono::Utc),
        )));
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(|d| Some(Timestamp::start_of(d)))
        .map_err(|_| {
            ApiError::bad_request("invalid_date", format!("{name} must be an ISO 8601 time"))
                .with_param(name)
        })
}

/// The `type` filter of the events list: one of the event types.
fn parse_type_filter(name: &str) -> Result<EventType, ApiError> {
    EventType::parse(name).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_enum",
            format!(
                "type must be an event type, not {}",
                crate::error::truncate(name, 80)
            ),
        )
        .with_param("type")
    })
}

/// Lists the organization's events of the key's mode, newest first.
#[utoipa::path(get, path = "/v1/events", tag = "events", params(EventQuery, PageQuery),
    responses((status = 200, body = [EventOut]), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_events(
    State(state): State<AppState>,
    SecretKey(principal): SecretKey,
    Query(query): Query<EventQuery>,
    Query(page): Query<PageQuery>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<PageResponse, ApiError> {
    let request = page.validate()?;
    let event_type = match query.event_type.as_deref() {
        None => None,
        Some(name) => Some(parse_type_filter(name)?.as_str().to_owned()),
    };
    let link_id = match query.link_id.as_deref() {
        None => None,
        Some(id) => Some(
            LinkId::parse(id)
                .ok_or_else(|| ApiError::invalid_param("link_id", "is not a link id"))?,
        ),
    };
    let filter = EventFilter {
        event_type,
        link_id,
        since: parse_time("since", query.since.as_deref())?,
        until: parse_time("until", query.until.as_deref())?,
        include_samples: match query.include_samples.as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                return Err(ApiError::invalid_param(
                    "include_samples",
                    "must be true or false",
                ))
            }
        },
    };
    let page = state
        .store
        .list_events(&principal.organization_id, principal.mode, &filter, request)
        .await?;
    Ok(PageResponse::new(
        &page,
        EventOut::from,
        request,
        &state.config,
        &headers,
        uri,
    ))
}

/// One event of the principal's organization and mode, or a 404.
pub async fn event_of(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<Event, ApiError> {
    let parsed = EventId::parse(id).ok_or_else(|| ApiError::not_found("event", id))?;
    state
        .store
        .event(&principal.organization_id, principal.mode, &parsed)
        .await?
        .ok_or_else(|| ApiError::not_found("event", id))
}

/// Retrieves one event.
#[utoipa::path(get, path = "/v1/events/{id}", tag = "events", params(("id" = String, Path)),
    responses((status = 200, body = EventOut), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get_event(
    State(state): State<AppState>,
    SecretKey(principal): SecretKey,
    Path(id): Path<String>,
) -> Result<Json<EventOut>, ApiError> {
    let event = event_of(&state, &principal, &id).await?;
    Ok(Json(EventOut::from(&event)))
}

/// Body of `POST /v1/events/trigger`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TriggerIn {
    /// The event type to fire.
    #[serde(rename = "type")]
    #[schema(required = true, nullable = false, schema_with = schemas::event_type)]
    pub event_type: Option<String>,
    /// Fields that replace the sample's `data` fields.
    #[schema(value_type = Option<Object>)]
    pub overrides: Option<Value>,
}

/// The sample `data` for a trigger, with the client's overrides applied (top-level fields).
pub fn triggered_data(event_type: EventType, overrides: Option<Value>) -> Result<Value, ApiError> {
    let mut data = sample_data(event_type);
    match overrides {
        None | Some(Value::Null) => {}
        Some(Value::Object(fields)) => {
            if let Some(target) = data.as_object_mut() {
                target.extend(fields);
            }
        }
        Some(_) => return Err(ApiError::invalid_param("overrides", "must be an object")),
    }
    Ok(data)
}

/// Fires a sample event (test mode), delivered to every subscribed endpoint.
#[utoipa::path(post, path = "/v1/events/trigger", tag = "events", request_body = TriggerIn,
    responses((status = 201, body = EventOut), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn trigger_event(
    State(state): State<AppState>,
    SecretKey(principal): SecretKey,
    JsonBody(body): JsonBody<TriggerIn>,
) -> Result<Response, ApiError> {
    if principal.mode != Mode::Test {
        return Err(ApiError::test_mode_only("Triggering events"));
    }
    let event_type = parse_event_type(body.event_type.as_deref())?;
    let data = triggered_data(event_type, body.overrides)?;
    let event = NewEvent::sample(event_type, &data).map_err(anyhow::Error::from)?;
    state
        .store
        .publish_events(
            &principal.organization_id,
            principal.mode,
            std::slice::from_ref(&event),
        )
        .await?;
    state.webhook_wake.notify_one();
    let stored = state
        .store
        .event(&principal.organization_id, principal.mode, &event.id)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("event vanished")))?;
    Ok((StatusCode::CREATED, Json(EventOut::from(&stored))).into_response())
}
