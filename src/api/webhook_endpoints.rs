//! `/v1/webhook_endpoints`: create, list, retrieve, update, delete, send a test event. The
//! operations on its deliveries (attempt log, resend, recover) are in `webhook_deliveries`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::events::{parse_event_type, triggered_data, EventOut};
use super::extract::{JsonBody, Query, SecretKey};
use super::pagination::{PageQuery, PageResponse};
use super::schemas;
use super::wire::ErrorBody;
use super::AppState;
use crate::domain::*;
use crate::error::{truncate, ApiError};
use crate::store::{EndpointPatch, NewEndpoint};
use crate::webhooks::{client::is_internal, signing};

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/webhook_endpoints",
            get(list_endpoints).post(create_endpoint),
        )
        .route(
            "/v1/webhook_endpoints/{id}",
            get(get_endpoint)
                .patch(update_endpoint)
                .delete(delete_endpoint),
        )
        .route("/v1/webhook_endpoints/{id}/test", post(test_endpoint))
}

/// A Webhook Endpoint object.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpointOut {
    /// `we_…`
    pub id: String,
    /// Always `webhook_endpoint`.
    pub object: &'static str,
    /// Creation time.
    pub created_at: String,
    /// Free text.
    pub description: Option<String>,
    /// Event types, or `["*"]`.
    pub enabled_events: Vec<String>,
    /// `test` or `live`.
    pub mode: String,
    /// `whsec_…`: only in the answer that creates the endpoint.
    pub secret: Option<String>,
    /// `enabled` or `disabled`.
    pub status: &'static str,
    /// Where events go.
    pub url: String,
    /// Same as `status == "disabled"` (older clients read it).
    pub disabled: bool,
    /// Our addition: why it is disabled (`client`, `gone`, `failing`).
    pub disabled_reason: Option<String>,
}

impl WebhookEndpointOut {
    fn new(endpoint: &WebhookEndpoint, secret: Option<String>) -> Self {
        Self {
            id: endpoint.id.to_string(),
            object: "webhook_endpoint",
            created_at: endpoint.created_at.to_wire(),
            description: endpoint.description.clone(),
            enabled_events: endpoint.enabled_events.names(),
            mode: endpoint.mode.as_str().to_owned(),
            secret,
            status: if endpoint.disabled {
                "disabled"
            } else {
                "enabled"
            },
            url: endpoint.url.clone(),
            disabled: endpoint.disabled,
            disabled_reason: endpoint.disabled_reason.clone(),
        }
    }
}

/// [`schemas::WEBHOOK_URL_PATTERN`], compiled once.
static WEBHOOK_URL: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(schemas::WEBHOOK_URL_PATTERN).expect("the receiver URL pattern compiles")
});

/// Checks a receiver URL: the documented pattern, http(s), a host, no credentials; https in live mode; and in live
/// mode without `webhook_allow_private`, no internal address, literal or as the name
/// resolves now. A name that does not resolve now is accepted: every delivery resolves it
/// again and refuses internal addresses then (`webhooks::client`).
async fn validate_url(state: &AppState, mode: Mode, url: &str) -> Result<String, ApiError> {
    let invalid = |why: &str| {
        ApiError::bad_request("invalid_url", format!("Invalid url: {why}")).with_param("url")
    };
    if url.len() > 2048 {
        return Err(invalid("longer than 2048 characters"));
    }
    // What the API document promises is what is accepted, no more: a client (or a fuzzer)
    // reading the document can tell a good URL from a bad one without asking.
    if !WEBHOOK_URL.is_match(url) {
        return Err(invalid(
            "an http(s) URL with a host name or an IPv4 address, an optional port, path and \
             query, and no fragment",
        ));
    }
    let parsed = url::Url::parse(url.trim()).map_err(|e| invalid(&e.to_string()))?;
    match (parsed.scheme(), mode) {
        ("https", _) | ("http", Mode::Test) => {}
        ("http", Mode::Live) => return Err(invalid("live mode requires https")),
        _ => return Err(invalid("the scheme must be http or https")),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid("credentials in the URL are not allowed"));
    }
    let host = parsed.host().ok_or_else(|| invalid("no host"))?;
    let guarded = !(state.config.webhook_allow_private
        || (mode == Mode::Test && state.config.webhook_allow_private_in_test));
    let literal = match host {
        url::Host::Ipv4(ip) => Some(std::net::IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(std::net::IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    };
    if guarded && literal.is_some_and(is_internal) {
        return Err(invalid(
            "internal addresses cannot receive webhooks (see docs/webhooks.md)",
        ));
    }
    if let (true, url::Host::Domain(name)) = (guarded, &host) {
        if resolves_only_inside(name, parsed.port_or_known_default().unwrap_or(443)).await {
            return Err(invalid(&format!(
                "{} resolves only to internal addresses, which cannot receive webhooks \
                 (see docs/webhooks.md)",
                truncate(name, 100)
            )));
        }
    }
    Ok(parsed.to_string())
}

/// Whether `name` resolves, within a short wait, to addresses that are all internal (as a
/// delivery would find it: the dispatcher drops internal addresses and fails with none left).
async fn resolves_only_inside(name: &str, port: u16) -> bool {
    let lookup = tokio::net::lookup_host((name, port));
    match tokio::time::timeout(std::time::Duration::from_secs(2), lookup).await {
        Ok(Ok(addresses)) => {
            let ips: Vec<std::net::IpAddr> = addresses.map(|a| a.ip()).collect();
            !ips.is_empty() && ips.into_iter().all(is_internal)
        }
        // Not resolvable now (or too slow): judged at delivery.
        _ => false,
    }
}

fn parse_enabled(list: Option<Vec<String>>) -> Result<Option<EnabledEvents>, ApiError> {
    list.map(|names| {
        EnabledEvents::parse(&names).map_err(|why| {
            ApiError::bad_request("invalid_webhook_subscription", truncate(&why, 200))
                .with_param("enabled_events")
        })
    })
    .transpose()
}

/// Body of `POST /v1/webhook_endpoints`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct WebhookEndpointIn {
    /// Receiver URL: https (http allowed in test mode), a host name or an IPv4 address, an
    /// optional port, path and query, no fragment: exactly [`schemas::WEBHOOK_URL_PATTERN`],
    /// which the server checks too. Every URL it describes is accepted in test mode; live mode also refuses
    /// http and internal addresses (see `validate_url`).
    #[schema(required = true, nullable = false, schema_with = schemas::webhook_url)]
    pub url: Option<String>,
    /// Event types to receive, or `["*"]`.
    #[schema(required = true, nullable = false, schema_with = schemas::enabled_events)]
    pub enabled_events: Option<Vec<String>>,
    /// Free text.
    pub description: Option<String>,
}

/// Creates an endpoint; the answer is the only one that shows its secret.
#[utoipa::path(post, path = "/v1/webhook_endpoints", tag = "webhook_endpoints", request_body = WebhookEndpointIn,
    responses((status = 201, body = WebhookEndpointOut), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create_endpoint(
    State(state): State<AppState>,
    SecretKey(principal): SecretKey,
    JsonBody(body): JsonBody<WebhookEndpointIn>,
) -> Result<Response, ApiError> {
    let url = body
        .url
        .as_deref()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ApiError::missing_param("url"))?;
    let url = validate_url(&state, principal.mode, url).await?;
    let enabled_events = parse_enabled(body.enabled_events)?
        .ok_or_else(|| ApiError::missing_param("enabled_events"))?;
    let id = WebhookEndpointId::generate();
    let secret = signing::new_secret();
    let endpoint = state
        .store
        .create_endpoint(&NewEndpoint {
            sealed_secret: state.keys.seal(id.as_str(), secret.as_bytes()),
            id,
            organization_id: principal.organization_id.clone(),
            mode: principal.mode,
            url,
            description: body.description.map(|d| truncate(&d, 1000)),
            enabled_events,
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(WebhookEndpointOut::new(&endpoint, Some(secret))),
    )
        .into_response())
}

pub(super) async fn endpoint_of(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<WebhookEndpoint, ApiError> {
    let parsed =
        WebhookEndpointId::parse(id).ok_or_else(|| ApiError::not_found("webhook_endpoint", id))?;
    state
        .store
        .endpoint(&principal.organization_id, principal.mode, &parsed)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook_endpoint", id))
}

/// Lists endpoints, newest first.
#[utoipa::path(get, path = "/v1/webhook_endpoints", tag = "webhook_endpoints", params(PageQuery),
    responses((status = 200, body = [WebhookEndpointOut]), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_endpoints(
    State(state): State<AppState>,
    SecretKey(principal): SecretKey,
    Query(page): Query<PageQuery>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<PageResponse, ApiError> {
    let request = page.validate()?;
    let page = state
        .store
        .list_endpoints(&principal.organization_id, principal.mode, request)
        .await?;
    Ok(PageResponse::new(
        &page,
        |e| WebhookEndpointOut::new(e, None),
        request,
        &state.config,
        &headers,
        uri,
    ))
}

/// Retrieves an endpoint (its secret is not shown again).
#[utoipa::path(get, path = "/v1/webhook_endpoints/{id}", tag = "webhook_endpoints", params(("id" = String, Path)),
    responses((status = 200, body = WebhookEndpointOut), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get_endpoint(
    State(state): State<AppState>,
    SecretKey(principal): SecretKey,
    Path(id): Path<String>,
) -> Result<Json<WebhookEndpointOut>, ApiError> {
    Ok(Json(WebhookEndpointOut::new(
        &endpoint_of(&state, &principal, &id).await?,
        None,
    )))
}

/// Body of `PATCH /v1/webhook_endpoints/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct WebhookEndpointPatch {
    /// New URL (as in creation); absent or `null` keeps the current one.
    #[schema(schema_with = schemas::webhook_url_or_null)]
    pub url: Option<String>,
    /// New event types, or `["*"]`; absent or `null` keeps the current ones.
    #[schema(schema_with = schemas::enabled_events_or_null)]
    pub enabled_events: Option<Vec<String>>,
    /// New description.
    pub description: Option<String>,
    /// Disable (`true`) or enable (`false`).
    pub disabled: Option<bool>,
}

/// Updates an endpoint.
#[utoipa::path(patch, path = "/v1/webhook_endpoints/{id}", tag = "webhook_endpoints", params(("id" = String, Path)),
    request_body = WebhookEndpointPatch,
    responses((status = 200, body = WebhookEndpointOut), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn update_endpoint(
    State(state): State<AppState>,
    SecretKey(principal): SecretKey,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<WebhookEndpointPatch>,
) -> Result<Json<WebhookEndpointOut>, ApiError> {
    let endpoint = endpoint_of(&state, &principal, &id).await?;
    let url = match body.url.as_deref() {
        Some(url) => Some(validate_url(&state, principal.mode, url).await?),
        None => None,
    };
    let patch = EndpointPatch {
        url,
        description: body.description.map(|d| truncate(&d, 1000)),
        enabled_events: parse_enabled(body.enabled_events)?,
        disabled: body.disabled,
    };
    let updated = state
        .store
        .update_endpoint(
            &principal.organization_id,
            principal.mode,
            &endpoint.id,
            &patch,
        )
        .await?
        .ok_or_else(|| ApiError::not_found("webhook_endpoint", &id))?;
    Ok(Json(WebhookEndpointOut::new(&updated, None)))
}

/// Deletes an endpoint; its pending deliveries are canceled.
#[utoipa::path(delete, path = "/v1/webhook_endpoints/{id}", tag = "webhook_endpoints", params(("id" = String, Path)),
    responses((status = 200, description = "`{id, object, deleted: true}`"), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn delete_endpoint(
    State(state): State<AppState>,
    SecretKey(principal): SecretKey,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let endpoint = endpoint_of(&state, &principal, &id).await?;
    state
        .store
        .delete_endpoint(&principal.organization_id, principal.mode, &endpoint.id)
        .await?;
    Ok(Json(
        json!({"id": endpoint.id.as_str(), "object": "webhook_endpoint", "deleted": true}),
    ))
}

/// Body of `POST /v1/webhook_endpoints/{id}/test`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TestIn {
    /// The event type to send.
    #[serde(rename = "type")]
    #[schema(required = true, nullable = false, schema_with = schemas::event_type)]
    pub event_type: Option<String>,
}

/// Sends a sample event of the given type to this endpoint only.
#[utoipa::path(post, path = "/v1/webhook_endpoints/{id}/test", tag = "webhook_endpoints", params(("id" = String, Path)),
    request_body = TestIn,
    responses((status = 200, body = EventOut), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn test_endpoint(
    State(state): State<AppState>,
    SecretKey(principal): SecretKey,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<TestIn>,
) -> Result<Json<EventOut>, ApiError> {
    let endpoint = endpoint_of(&state, &principal, &id).await?;
    let event_type = parse_event_type(body.event_type.as_deref())?;
    let event = NewEvent::sample(event_type, &triggered_data(event_type, None)?)
        .map_err(|e| ApiError::Internal(e.into()))?;
    // A test event goes to this endpoint only, so it is published without fan-out.
    state
        .store
        .publish_event_to(
            &principal.organization_id,
            principal.mode,
            &event,
            &endpoint.id,
        )
        .await?;
    state.webhook_wake.notify_one();
    let stored = state
        .store
        .event(&principal.organization_id, principal.mode, &event.id)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("event vanished")))?;
    Ok(Json(EventOut::from(&stored)))
}
