//! `GET /v1/institutions`: the banks this server can connect, built in or served by a
//! connector. Not a Fintoc endpoint (Fintoc lists its banks in its documentation); here the
//! list depends on the configuration, so clients and operators can read it.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::SecretKey;
use super::wire::ErrorBody;
use super::AppState;

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
}

/// Lists the institutions offered in the key's mode, ordered by id (in live mode, the sandbox
/// banks only with `sandbox_in_live`).
#[utoipa::path(get, path = "/v1/institutions", tag = "institutions",
    responses((status = 200, body = [InstitutionListed]), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_institutions(
    State(state): State<AppState>,
    SecretKey(principal): SecretKey,
) -> Json<Vec<InstitutionListed>> {
    Json(
        state
            .registry
            .list_offered(principal.mode == crate::domain::Mode::Live)
            .into_iter()
            .map(|(institution, source)| InstitutionListed {
                id: institution.id.into_owned(),
                object: "institution",
                name: institution.name.into_owned(),
                country: institution.country.into_owned(),
                currency: institution.currency.into_owned(),
                source: source.as_str(),
            })
            .collect(),
    )
}
