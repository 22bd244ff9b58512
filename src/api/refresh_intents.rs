//! `/v1/refresh_intents`: create, retrieve, list, and (our addition) answer the second factor
//! with the secret key.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::ToSchema;

use super::extract::{JsonBody, LinkScope, Query, SecretKey};
use super::pagination::{PageQuery, PageResponse};
use super::wire::{ErrorBody, RefreshIntentOut, RequiresMfaOut};
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

/// Parameters of `POST /v1/refresh_intents`, from the query string or the JSON body (the
/// official clients use both).
#[derive(Debug, Default, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RefreshIntentIn {
    /// The link to refresh.
    pub link_token: Option<String>,
    /// `only_last` (default) or `historical`.
    pub refresh_type: Option<String>,
    /// Test mode only: force `succeeded`, `failed` or `rejected`.
    pub result_status: Option<String>,
}

/// Asks for an on-demand refresh of a link. Answers at once with status `created`.
#[utoipa::path(post, path = "/v1/refresh_intents", tag = "refresh_intents",
    params(RefreshIntentIn), request_body(content = RefreshIntentIn, description = "Same fields as the query"),
    responses((status = 201, body = RefreshIntentOut), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create_refresh_intent(
    State(state): State<AppState>,
    SecretKey(principal): SecretKey,
    Query(query): Query<RefreshIntentIn>,
    JsonBody(body): JsonBody<RefreshIntentIn>,
) -> Result<Response, ApiError> {
    let pick = |q: Option<String>, b: Option<String>| q.or(b).filter(|v| !v.is_empty());
    let token = pick(query.link_token, body.link_token)
        .ok_or_else(|| ApiError::missing_param("link_token"))?;
    let refresh_type = match pick(query.refresh_type, body.refresh_type) {
        None => RefreshType::OnlyLast,
        Some(text) => RefreshType::parse(&text).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_refresh_type",
                "refresh_type must be only_last or historical",
            )
            .with_param("refresh_type")
        })?,
    };
    let forced = match pick(query.result_status, body.result_status) {
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
    let created = intents::create(&state, &principal, &token, refresh_type, forced).await?;
    let mut out = RefreshIntentOut::new(&state.keys, &created.intent);
    if let Some(token) = &created.widget_token {
        out.requires_mfa = Some(RequiresMfaOut {
            widget_token: token.expose().to_owned(),
        });
    }
    Ok((StatusCode::CREATED, Json(out)).into_response())
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

/// A second-factor answer: a `code` (SMS or device), or `approved: true` once the holder
/// approved the login in the bank's app.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MfaIn {
    /// The code the holder received.
    pub code: Option<String>,
    /// The holder approved in the bank's app.
    pub approved: Option<bool>,
}

impl MfaIn {
    /// The connector's answer.
    pub fn answer(self) -> Result<MfaAnswer, ApiError> {
        match (self.code, self.approved) {
            (Some(code), _) if !code.trim().is_empty() => {
                if code.len() > 64 {
                    return Err(ApiError::invalid_param("code", "is too long"));
                }
                Ok(MfaAnswer::Code(code.trim().to_owned()))
            }
            (_, Some(true)) => Ok(MfaAnswer::Approved),
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
