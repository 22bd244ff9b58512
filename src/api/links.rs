//! `/v1/links`: create (test mode, without a browser), list, retrieve, update, delete.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::ToSchema;

use super::extract::{resolve_link_token, JsonBody, Query, SecretKey};
use super::pagination::{PageQuery, PageResponse};
use super::wire::{ErrorBody, LinkOut};
use super::AppState;
use crate::config::Secret;
use crate::domain::{HolderType, Link, LinkId, Mode, Principal};
use crate::engine::linking::{self, NewLinkRequest};
use crate::error::ApiError;

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/links", get(list_links).post(create_link))
        .route(
            "/v1/links/{link_token}",
            get(get_link).patch(update_link).delete(delete_link),
        )
}

/// The holder types, for the OpenAPI document.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum HolderTypeIn {
    /// A person.
    Individual,
    /// A company.
    Business,
}

/// Body of `POST /v1/links`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LinkIn {
    /// One of the server's institutions, e.g. `cl_banco_sandbox` (the served document lists
    /// them).
    #[schema(required = true, nullable = false, value_type = String)]
    pub institution_id: Option<String>,
    /// Bank login (a RUT in Chile). Blank counts as missing.
    #[schema(required = true, nullable = false, value_type = String, pattern = r"\S")]
    pub username: Option<String>,
    /// Bank password, sealed at rest, never returned. Blank counts as missing.
    #[schema(required = true, nullable = false, value_type = String, pattern = r"\S")]
    pub password: Option<String>,
    /// `individual` (default) or `business`.
    #[schema(value_type = Option<HolderTypeIn>)]
    pub holder_type: Option<String>,
    /// Our addition: the second factor, for banks that ask for one at login.
    pub mfa_code: Option<String>,
}

/// A required, non-blank text parameter.
pub(super) fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, ApiError> {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(ApiError::missing_param(name)),
    }
}

/// Creates a link by logging in to the bank with the given credentials (test mode only).
#[utoipa::path(post, path = "/v1/links", tag = "links", request_body = LinkIn,
    responses((status = 201, body = LinkOut), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create_link(
    State(state): State<AppState>,
    SecretKey(principal): SecretKey,
    JsonBody(body): JsonBody<LinkIn>,
) -> Result<Response, ApiError> {
    if principal.mode != Mode::Test {
        return Err(ApiError::test_mode_only("Creating links through the API"));
    }
    let holder_type = match body.holder_type.as_deref() {
        None => HolderType::Individual,
        Some(text) => HolderType::parse(text).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_holder_type",
                "holder_type must be individual or business",
            )
            .with_param("holder_type")
        })?,
    };
    let request = NewLinkRequest {
        institution_id: required(&body.institution_id, "institution_id")?.to_owned(),
        username: required(&body.username, "username")?.to_owned(),
        password: Secret::new(required(&body.password, "password")?),
        holder_type,
        mfa_code: body.mfa_code.clone(),
    };
    let created = linking::create_link(&state.linking(), &principal, request).await?;
    // The link's first history is ready to run, and its `link.created` to be delivered.
    state.engine.wake.notify_one();
    state.webhook_wake.notify_one();
    let out = LinkOut::new(&created.link, Some(&created.accounts), Some(&created.token));
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// Lists the organization's links of the key's mode, newest first.
#[utoipa::path(get, path = "/v1/links", tag = "links", params(PageQuery),
    responses((status = 200, body = [LinkOut]), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_links(
    State(state): State<AppState>,
    SecretKey(principal): SecretKey,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<PageResponse, ApiError> {
    let request = query.validate()?;
    let page = state
        .store
        .list_links(&principal.organization_id, principal.mode, request)
        .await?;
    Ok(PageResponse::new(
        &page,
        |l| LinkOut::new(l, None, None),
        request,
        &state.config,
        &headers,
        uri,
    ))
}

/// Retrieves a link by its token, with its accounts.
#[utoipa::path(get, path = "/v1/links/{link_token}", tag = "links",
    params(("link_token" = String, Path, description = "The link token")),
    responses((status = 200, body = LinkOut), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get_link(
    State(state): State<AppState>,
    SecretKey(principal): SecretKey,
    Path(token): Path<String>,
) -> Result<Json<LinkOut>, ApiError> {
    let link = resolve_link_token(&state, &principal, &token).await?;
    let accounts = state.store.accounts_of_link(&link.id).await?;
    Ok(Json(LinkOut::new(&link, Some(&accounts), None)))
}

/// Body of `PATCH /v1/links/{link_token}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LinkPatch {
    /// Keep refreshing the link (`true`) or stop (`false`).
    #[schema(value_type = Option<bool>)]
    pub active: Option<serde_json::Value>,
    /// Our addition: new bank password, to reconnect a link whose credentials the bank
    /// rejected (test and live mode). Checked by logging in before it is stored.
    pub password: Option<String>,
    /// With `password`: a new bank login (the link's when absent). Ignored without `password`.
    pub username: Option<String>,
    /// With `password`: the second factor, for banks that ask for one at login.
    pub mfa_code: Option<String>,
}

/// Activates or deactivates a link, and reconnects it with new credentials. Other
/// fields are ignored.
#[utoipa::path(patch, path = "/v1/links/{link_token}", tag = "links", request_body = LinkPatch,
    params(("link_token" = String, Path, description = "The link token")),
    responses((status = 200, body = LinkOut), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn update_link(
    State(state): State<AppState>,
    SecretKey(principal): SecretKey,
    Path(token): Path<String>,
    JsonBody(patch): JsonBody<LinkPatch>,
) -> Result<Json<LinkOut>, ApiError> {
    let mut link = resolve_link_token(&state, &principal, &token).await?;
    if let Some(password) = patch.password.as_deref().filter(|p| !p.is_empty()) {
        // In both modes: a live link whose credentials the bank refused is reconnected the same
        // way (the widget's reconnect flow is the other way, for a holder's own screen).
        let request = linking::Reconnection {
            username: patch.username.clone().filter(|u| !u.trim().is_empty()),
            password: Secret::new(password),
            mfa_code: patch.mfa_code.clone(),
        };
        link = linking::reconnect(&state.linking(), &link, request).await?;
    }
    let link = match patch.active {
        None => link,
        Some(serde_json::Value::Bool(active)) => state
            .store
            .set_link_active(&principal.organization_id, principal.mode, &link.id, active)
            .await?
            .ok_or_else(ApiError::invalid_link_token)?,
        Some(_) => {
            return Err(
                ApiError::bad_request("invalid_boolean", "active must be true or false")
                    .with_param("active"),
            )
        }
    };
    Ok(Json(LinkOut::new(&link, None, None)))
}

/// Deletes a link, named by its id or its token. Answers 204 with no body.
#[utoipa::path(delete, path = "/v1/links/{link_token}", tag = "links",
    params(("link_token" = String, Path, description = "The link id or the link token")),
    responses((status = 204, description = "Deleted"), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn delete_link(
    State(state): State<AppState>,
    SecretKey(principal): SecretKey,
    Path(id_or_token): Path<String>,
) -> Result<StatusCode, ApiError> {
    let link = find_for_delete(&state, &principal, &id_or_token).await?;
    if state
        .store
        .delete_link(&principal.organization_id, principal.mode, &link.id)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("link", &id_or_token))
    }
}

/// Fintoc's docs delete by id while some clients send the token: accept both.
async fn find_for_delete(
    state: &AppState,
    principal: &Principal,
    id_or_token: &str,
) -> Result<Link, ApiError> {
    if id_or_token.contains("_token_") {
        return resolve_link_token(state, principal, id_or_token).await;
    }
    let id = LinkId::parse(id_or_token).ok_or_else(|| ApiError::not_found("link", id_or_token))?;
    state
        .store
        .link_by_id(&principal.organization_id, principal.mode, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("link", id_or_token))
}
