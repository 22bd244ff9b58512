//! `/v1/refresh_intents`: create, retrieve, list, and (our addition) answer the second factor
//! with the secret key.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use utoipa::ToSchema;

use super::extract::{JsonBody, LinkScope, Query, SecretKey};
use super::idempotency::{intent_body, AnswerStored, KeyTaken, KeyedIntent};
use super::pagination::{PageQuery, PageResponse};
use super::wire::{ErrorBody, RefreshIntentOut};
use super::AppState;
use crate::connectors::MfaAnswer;
use crate::domain::*;
use crate::engine::{intents, mfa};
use crate::error::ApiError;

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/refresh_intents",
            get(list_refresh_intents).post(create_refresh_intent),
        )
        .route("/v1/refresh_intents/{id}", get(get_refresh_intent))
        .route(
            "/v1/refresh_intents/{id}/mfa",
            post(answer_refresh_intent_mfa),
        )
}

/// The refresh types, for the OpenAPI document.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum RefreshTypeIn {
    /// The latest movements.
    OnlyLast,
    /// Back through the bank's history.
    Historical,
}

/// The outcomes a test-mode refresh can be told to have, for the OpenAPI document.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ResultStatusIn {
    /// Ends `succeeded`.
    Succeeded,
    /// Ends `failed`.
    Failed,
    /// Ends `rejected` (credentials refused).
    Rejected,
}

/// Parameters of `POST /v1/refresh_intents`, from the JSON body or the query string (the
/// official clients use both; one value may come in both places, two different ones are
/// refused). The document describes the body: a parameter may come from either place, which
/// a schema cannot say.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct RefreshIntentIn {
    /// The link to refresh.
    #[schema(required = true, nullable = false, value_type = String, min_length = 1)]
    pub link_token: Option<String>,
    /// `only_last` (default) or `historical`.
    #[schema(value_type = Option<RefreshTypeIn>)]
    pub refresh_type: Option<String>,
    /// Test mode only (ignored in live mode): force `succeeded`, `failed` or `rejected`.
    #[schema(value_type = Option<ResultStatusIn>)]
    pub result_status: Option<String>,
}

/// Asks for an on-demand refresh of a link. Answers at once with status `created`.
#[utoipa::path(post, path = "/v1/refresh_intents", tag = "refresh_intents",
    request_body(content = RefreshIntentIn, description = "Each field may come in the query string instead (or in both with the same value)"),
    responses((status = 201, body = RefreshIntentOut), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create_refresh_intent(
    State(state): State<AppState>,
    SecretKey(principal): SecretKey,
    keyed: Option<Extension<KeyedIntent>>,
    Query(query): Query<RefreshIntentIn>,
    JsonBody(body): JsonBody<RefreshIntentIn>,
) -> Result<Response, ApiError> {
    // An empty value is a value: blank `refresh_type` or `result_status` is refused (it is
    // not one of their values), and a blank `link_token` is missing.
    let token = one_value("link_token", query.link_token, body.link_token)?
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::missing_param("link_token"))?;
    let refresh_type = match one_value("refresh_type", query.refresh_type, body.refresh_type)? {
        None => RefreshType::OnlyLast,
        Some(text) => RefreshType::parse(&text).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_refresh_type",
                "refresh_type must be only_last or historical",
            )
            .with_param("refresh_type")
        })?,
    };
    let forced = match one_value("result_status", query.result_status, body.result_status)? {
        None => None,
        // Live mode ignores it, as Fintoc documents.
        Some(_) if principal.mode == Mode::Live => None,
        Some(text) => Some(
            IntentStatus::parse(&text)
                .filter(|s| s.is_final())
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_enum",
                        "result_status must be succeeded, failed or rejected",
                    )
                    .with_param("result_status")
                })?,
        ),
    };
    let token = LinkToken::parse(&token).ok_or_else(ApiError::invalid_link_token)?;
    let keyed = keyed.map(|Extension(KeyedIntent(keyed))| keyed);
    let created = match intents::create(
        &state,
        &principal,
        &token,
        refresh_type,
        forced,
        keyed.as_ref(),
    )
    .await
    {
        Err(CreateIntentError::IdempotencyKeyTaken) => {
            let mut response =
                ApiError::from(CreateIntentError::IdempotencyKeyTaken).into_response();
            response.extensions_mut().insert(KeyTaken);
            return Ok(response);
        }
        created => created?,
    };
    // The same bytes as the answer a keyed create stored (`requires_mfa` comes from the
    // stored intent's sealed widget token, the one `created.widget_token` holds).
    debug_assert_eq!(
        created.intent.mfa_pending.is_some(),
        created.widget_token.is_some()
    );
    let body = intent_body(&state.keys, &created.intent);
    let mut response = (
        StatusCode::CREATED,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response();
    if keyed.is_some() {
        response.extensions_mut().insert(AnswerStored);
    }
    Ok(response)
}

/// The one value of a parameter that may come in the query string, the body, or both; two
/// different values are refused rather than one silently chosen.
fn one_value(
    name: &str,
    query: Option<String>,
    body: Option<String>,
) -> Result<Option<String>, ApiError> {
    match (query, body) {
        (Some(q), Some(b)) if q != b => Err(ApiError::bad_request(
            "invalid_params",
            format!("{name} was given twice, in the query string and in the body, with different values"),
        )
        .with_param(name)),
        (q, b) => Ok(q.or(b)),
    }
}

async fn intent_in_scope(
    state: &AppState,
    scope: &LinkScope,
    id: &str,
) -> Result<RefreshIntent, ApiError> {
    let parsed =
        RefreshIntentId::parse(id).ok_or_else(|| ApiError::not_found("refresh_intent", id))?;
    state
        .store
        .refresh_intent(&scope.link.id, &parsed)
        .await?
        .ok_or_else(|| ApiError::not_found("refresh_intent", id))
}

/// Retrieves one refresh intent of the link.
#[utoipa::path(get, path = "/v1/refresh_intents/{id}", tag = "refresh_intents",
    params(("id" = String, Path), super::accounts::LinkTokenParam),
    responses((status = 200, body = RefreshIntentOut), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get_refresh_intent(
    State(state): State<AppState>,
    scope: LinkScope,
    Path(id): Path<String>,
) -> Result<Json<RefreshIntentOut>, ApiError> {
    let intent = intent_in_scope(&state, &scope, &id).await?;
    Ok(Json(RefreshIntentOut::new(&state.keys, &intent)))
}

/// Lists the link's refresh intents, newest first.
#[utoipa::path(get, path = "/v1/refresh_intents", tag = "refresh_intents",
    params(super::accounts::LinkTokenParam, PageQuery),
    responses((status = 200, body = [RefreshIntentOut]), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_refresh_intents(
    State(state): State<AppState>,
    scope: LinkScope,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<PageResponse, ApiError> {
    let request = query.validate()?;
    let page = state
        .store
        .list_refresh_intents(&scope.link.id, request)
        .await?;
    Ok(PageResponse::new(
        &page,
        |i| RefreshIntentOut::new(&state.keys, i),
        request,
        &state.config,
        &headers,
        uri,
    ))
}

/// Longest second-factor code, in characters.
const MAX_CODE_CHARS: usize = 64;

/// A second-factor answer: a `code` (SMS or device), or `approved: true` once the holder
/// approved the login in the bank's app. The document also says that one of the two is
/// required (see `openapi::MfaAnswerRequired`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct MfaIn {
    /// The code the holder received. When present it is the answer, so it must not be blank.
    #[schema(nullable = false, value_type = String, pattern = r"\S", max_length = 64)]
    pub code: Option<String>,
    /// The holder approved in the bank's app.
    #[schema(nullable = false, value_type = bool)]
    pub approved: Option<bool>,
}

impl MfaIn {
    /// The connector's answer.
    pub fn answer(self) -> Result<MfaAnswer, ApiError> {
        match (self.code, self.approved) {
            (Some(code), _) => {
                if code.trim().is_empty() {
                    return Err(ApiError::missing_param("code"));
                }
                if code.chars().count() > MAX_CODE_CHARS {
                    return Err(ApiError::invalid_param("code", "is too long"));
                }
                Ok(MfaAnswer::Code(code.trim().to_owned()))
            }
            (None, Some(true)) => Ok(MfaAnswer::Approved),
            _ => Err(ApiError::missing_param("code")),
        }
    }
}

/// Our addition: answers the pending second factor server-side, with the secret key.
#[utoipa::path(post, path = "/v1/refresh_intents/{id}/mfa", tag = "refresh_intents",
    params(("id" = String, Path), super::accounts::LinkTokenParam), request_body = MfaIn,
    responses((status = 200, body = RefreshIntentOut), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn answer_refresh_intent_mfa(
    State(state): State<AppState>,
    scope: LinkScope,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<MfaIn>,
) -> Result<Json<RefreshIntentOut>, ApiError> {
    let intent = intent_in_scope(&state, &scope, &id).await?;
    mfa::answer(&state, &intent, body.answer()?).await?;
    let intent = intent_in_scope(&state, &scope, &id).await?;
    Ok(Json(RefreshIntentOut::new(&state.keys, &intent)))
}
