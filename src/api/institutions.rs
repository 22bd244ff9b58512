//! `GET /v1/institutions`: the banks this server can connect, built in or served by a
//! connector. Not a Fintoc endpoint (Fintoc lists its banks in its documentation); here the
//! list depends on the configuration, so clients and operators can read it.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::SecretKey;
use super::wire::ErrorBody;
use super::AppState;
use crate::domain::Timestamp;
use crate::error::ApiError;
use crate::store::institution_state::InstitutionHealth;

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/institutions", get(list_institutions))
}

/// A bank this server can connect.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstitutionListed {
    /// e.g. `cl_banco_sandbox`.
    pub id: String,
    /// Always `institution`.
    pub object: &'static str,
    /// Display name.
    pub name: String,
    /// Lowercase ISO 3166-1 country.
    pub country: String,
    /// ISO 4217 currency of its accounts.
    pub currency: String,
    /// `sandbox` (built in) or `connector` (an out-of-process connector).
    pub source: &'static str,
    /// Its circuit breaker (docs/politeness.md): `up`, `degraded` (answering `unavailable`,
    /// still tried) or `down` (refreshes wait for the next probe).
    pub status: &'static str,
    /// Since when it has that status; `null` for a bank never seen failing.
    pub status_since: Option<String>,
    /// While `down`: when the next probe may call the bank.
    pub next_probe_at: Option<String>,
}

/// Lists the institutions offered in the key's mode, ordered by id (in live mode, the sandbox
/// banks only with `sandbox_in_live`).
#[utoipa::path(get, path = "/v1/institutions", tag = "institutions",
    responses((status = 200, body = [InstitutionListed]), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_institutions(
    State(state): State<AppState>,
    SecretKey(principal): SecretKey,
) -> Result<Json<Vec<InstitutionListed>>, ApiError> {
    let health: BTreeMap<String, InstitutionHealth> = state
        .store
        .institution_health()
        .await?
        .into_iter()
        .map(|h| (h.institution_id.clone(), h))
        .collect();
    Ok(Json(
        state
            .registry
            .list_offered(principal.mode == crate::domain::Mode::Live)
            .into_iter()
            .map(|(institution, source)| {
                let health = health.get(institution.id.as_ref());
                InstitutionListed {
                    status: match health.map(|h| h.status.as_str()) {
                        Some("down") => "down",
                        Some("degraded") => "degraded",
                        _ => "up",
                    },
                    status_since: health.map(|h| h.since.to_wire()),
                    next_probe_at: health
                        .filter(|h| h.status == "down")
                        .and_then(|h| h.probe_at)
                        .map(Timestamp::to_wire),
                    id: institution.id.into_owned(),
                    object: "institution",
                    name: institution.name.into_owned(),
                    country: institution.country.into_owned(),
                    currency: institution.currency.into_owned(),
                    source: source.as_str(),
                }
            })
            .collect(),
    ))
}
