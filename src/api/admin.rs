//! Organizations and API keys for operators: `/admin/v1/…`, authenticated with the operator
//! token (`Authorization: Bearer …`, see [`crate::operator`]); off, with a 404 that says how
//! to turn it on, when no `operator_token` is configured. And `GET /v1/api_keys`, an
//! organization's own keys for its secret key (the official Node client's `apiKeys.list`).
//!
//! Keys are shown once, when created or rotated; every listing shows only their hints.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::extract::{JsonBody, SecretKey};
use super::AppState;
use crate::domain::*;
use crate::error::{ApiError, ErrorType};
use crate::store::{ApiKeyRecord, Organization, RotationError};
use crate::tenants;

/// Longest rotation overlap: a month. Longer, and the old key is not being rotated out.
const MAX_OVERLAP_SECS: u64 = 30 * 24 * 3600;
/// The overlap when none is given: a day.
const DEFAULT_OVERLAP_SECS: u64 = 24 * 3600;

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/v1/organizations",
            get(list_organizations).post(create_organization),
        )
        .route(
            "/admin/v1/organizations/{id}/api_keys",
            get(list_keys).post(create_keys),
        )
        .route("/admin/v1/api_keys/{id}/revoke", post(revoke_key))
        .route("/admin/v1/api_keys/{id}/rotate", post(rotate_key))
        .route("/v1/api_keys", get(list_own_keys))
}

/// An organization on the wire.
#[derive(Debug, Serialize)]
pub struct OrganizationOut {
    /// `org_…`
    pub id: String,
    /// Always `organization`.
    pub object: &'static str,
    /// Its unique name.
    pub name: String,
    /// Creation time.
    pub created_at: String,
}

impl From<&Organization> for OrganizationOut {
    fn from(org: &Organization) -> Self {
        Self {
            id: org.id.to_string(),
            object: "organization",
            name: org.name.clone(),
            created_at: org.created_at.to_wire(),
        }
    }
}

/// An API key on the wire: its hint, never the key.
#[derive(Debug, Serialize)]
pub struct ApiKeyOut {
    /// `key_…`
    pub id: String,
    /// Always `api_key`.
    pub object: &'static str,
    /// Owner.
    pub organization_id: String,
    /// `test` or `live`.
    pub mode: &'static str,
    /// `secret` or `public`.
    pub kind: &'static str,
    /// e.g. `sk_test_…a1B2`.
    pub hint: String,
    /// `active`, `expiring` (a rotated key in its overlap), `expired` or `revoked`.
    pub status: &'static str,
    /// Creation time.
    pub created_at: String,
    /// When it was revoked.
    pub revoked_at: Option<String>,
    /// When it stops (or stopped) working, for a rotated key.
    pub expires_at: Option<String>,
}

impl ApiKeyOut {
    fn new(key: &ApiKeyRecord, now: Timestamp) -> Self {
        let status = match (key.revoked_at, key.expires_at) {
            (Some(_), _) => "revoked",
            (None, Some(end)) if end.millis() <= now.millis() => "expired",
            (None, Some(_)) => "expiring",
            (None, None) => "active",
        };
        Self {
            id: key.id.to_string(),
            object: "api_key",
            organization_id: key.organization_id.to_string(),
            mode: key.mode.as_str(),
            kind: match key.kind {
                KeyKind::Secret => "secret",
                KeyKind::Public => "public",
            },
            hint: key.hint.clone(),
            status,
            created_at: key.created_at.to_wire(),
            revoked_at: key.revoked_at.map(Timestamp::to_wire),
            expires_at: key.expires_at.map(Timestamp::to_wire),
        }
    }
}

/// Body of `POST /admin/v1/organizations`.
#[derive(Debug, Deserialize)]
pub struct OrganizationIn {
    /// Unique name, 1 to 100 characters.
    pub name: Option<String>,
}

/// Body of `POST /admin/v1/organizations/{id}/api_keys`.
#[derive(Debug, Deserialize)]
pub struct KeysIn {
    /// `test` (default) or `live`.
    pub mode: Option<String>,
}

/// Body of `POST /admin/v1/api_keys/{id}/rotate`.
#[derive(Debug, Deserialize)]
pub struct RotateIn {
    /// How long the old key keeps working, in seconds (default a day, at most 30 days).
    pub overlap_seconds: Option<u64>,
}

fn operator(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    crate::operator::require_bearer(&state.config, &state.keys, headers)
}

async fn organization(state: &AppState, id: &str) -> Result<Organization, ApiError> {
    let parsed =
        OrganizationId::parse(id).ok_or_else(|| ApiError::not_found("organization", id))?;
    state
        .store
        .list_organizations()
        .await?
        .into_iter()
        .find(|org| org.id == parsed)
        .ok_or_else(|| ApiError::not_found("organization", id))
}

fn key_id(id: &str) -> Result<ApiKeyId, ApiError> {
    ApiKeyId::parse(id).ok_or_else(|| ApiError::not_found("api_key", id))
}

/// Every organization, oldest first.
pub async fn list_organizations(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<OrganizationOut>>, ApiError> {
    operator(&state, &headers)?;
    let orgs = state.store.list_organizations().await?;
    Ok(Json(orgs.iter().map(OrganizationOut::from).collect()))
}

/// Creates an organization (without keys; create them next).
pub async fn create_organization(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<OrganizationIn>,
) -> Result<Response, ApiError> {
    operator(&state, &headers)?;
    let name = body.name.as_deref().map(str::trim).unwrap_or_default();
    if name.is_empty() {
        return Err(ApiError::missing_param("name"));
    }
    if name.chars().count() > 100 {
        return Err(ApiError::invalid_param(
            "name",
            "is longer than 100 characters",
        ));
    }
    match state.store.create_organization(name).await? {
        Some(org) => Ok((StatusCode::CREATED, Json(OrganizationOut::from(&org))).into_response()),
        None => Err(ApiError::client(
            StatusCode::CONFLICT,
            ErrorType::InvalidRequest,
            "organization_exists",
            format!(
                "An organization named {} exists.",
                crate::error::truncate(name, 100)
            ),
        )
        .with_param("name")),
    }
}

/// An organization's keys, newest first.
pub async fn list_keys(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Vec<ApiKeyOut>>, ApiError> {
    operator(&state, &headers)?;
    let org = organization(&state, &id).await?;
    let now = Timestamp::now();
    let keys = state.store.list_keys(&org.id).await?;
    Ok(Json(keys.iter().map(|k| ApiKeyOut::new(k, now)).collect()))
}

/// A new secret/public key pair of the organization, shown once.
pub async fn create_keys(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<KeysIn>,
) -> Result<Response, ApiError> {
    operator(&state, &headers)?;
    let org = organization(&state, &id).await?;
    let mode = match body.mode.as_deref() {
        None => Mode::Test,
        Some(text) => Mode::parse(text)
            .ok_or_else(|| ApiError::invalid_param("mode", "must be test or live"))?,
    };
    let pair = tenants::create_key_pair(&state.store, &state.keys, &org.name, mode).await?;
    Ok((StatusCode::CREATED, Json(pair)).into_response())
}

/// Revokes a key at once (within a minute in other processes).
pub async fn revoke_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<ApiKeyOut>, ApiError> {
    operator(&state, &headers)?;
    let key = state
        .store
        .revoke_key(&key_id(&id)?)
        .await?
        .ok_or_else(|| ApiError::not_found("api_key", &id))?;
    tracing::info!(key_id = %key.id, hint = %key.hint, "API key revoked");
    Ok(Json(ApiKeyOut::new(&key, Timestamp::now())))
}

/// The answer of a rotation: the replacement key, shown once.
#[derive(Debug, Serialize)]
pub struct RotationOut {
    /// The old key, working until its `expires_at`.
    pub old: ApiKeyOut,
    /// The replacement's record.
    pub new: ApiKeyOut,
    /// The replacement key itself; it is not shown again.
    pub key: String,
}

/// Rotates a working key: a replacement now, the old key working for the overlap.
pub async fn rotate_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RotateIn>,
) -> Result<Response, ApiError> {
    operator(&state, &headers)?;
    let overlap = body.overlap_seconds.unwrap_or(DEFAULT_OVERLAP_SECS);
    if overlap > MAX_OVERLAP_SECS {
        return Err(ApiError::invalid_param(
            "overlap_seconds",
            format!("is at most {MAX_OVERLAP_SECS} (30 days)"),
        ));
    }
    let rotated = tenants::rotate_key(
        &state.store,
        &state.keys,
        &key_id(&id)?,
        std::time::Duration::from_secs(overlap),
    )
    .await
    .map_err(|e| match e {
        RotationError::NotFound(_) => ApiError::not_found("api_key", &id),
        RotationError::Internal(e) => ApiError::Internal(e),
    })?;
    tracing::info!(old = %rotated.old.id, new = %rotated.new.id, "API key rotated");
    let now = Timestamp::now();
    let out = RotationOut {
        old: ApiKeyOut::new(&rotated.old, now),
        new: ApiKeyOut::new(&rotated.new, now),
        key: rotated.key,
    };
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// The key's organization's keys of the key's mode, newest first (hints only).
pub async fn list_own_keys(
    State(state): State<AppState>,
    SecretKey(principal): SecretKey,
) -> Result<Json<Vec<ApiKeyOut>>, ApiError> {
    let now = Timestamp::now();
    let keys = state.store.list_keys(&principal.organization_id).await?;
    Ok(Json(
        keys.iter()
            .filter(|k| k.mode == principal.mode)
            .map(|k| ApiKeyOut::new(k, now))
            .collect(),
    ))
}
