//! What an operator reaches with the operator token: `GET /metrics` ([`metrics`]) and the
//! dashboard ([`crate::dashboard`]). Without `operator_token` configured both are off, and
//! say how to turn them on; with it, a request must present it (`Authorization: Bearer …`,
//! or the dashboard's session cookie, derived from it).
//!
//! The token is compared through keyed digests of equal length, in constant time; it is never
//! logged, rendered, or stored (the session cookie is a keyed digest of it).

pub mod http_metrics;
pub mod metrics;

use axum::http::{header, HeaderMap, StatusCode};
use subtle::ConstantTimeEq;

use crate::config::Config;
use crate::crypto::MasterKey;
use crate::error::{ApiError, ErrorType};

/// How to turn the operator endpoints on, for whoever finds them off.
pub const HOW_TO_ENABLE: &str = "The operator endpoints (/metrics and /dashboard) are off. \
     Set operator_token in the configuration file, or REFRESCO_OPERATOR_TOKEN in the \
     environment, and restart.";

/// The operator endpoints are off.
pub fn disabled() -> ApiError {
    ApiError::client(
        StatusCode::NOT_FOUND,
        ErrorType::InvalidRequest,
        "operator_disabled",
        HOW_TO_ENABLE,
    )
}

/// A missing or wrong operator token.
pub fn invalid_token() -> ApiError {
    ApiError::client(
        StatusCode::UNAUTHORIZED,
        ErrorType::Authentication,
        "invalid_operator_token",
        "Invalid operator token. Send the configured operator_token as \
         `Authorization: Bearer <token>`.",
    )
}

/// Whether `given` is the configured token (false when none is configured).
pub fn token_matches(config: &Config, keys: &MasterKey, given: &str) -> bool {
    let Some(expected) = &config.operator_token else {
        return false;
    };
    // Digests first: equal lengths, so the comparison time tells nothing of the token.
    let expected = keys.keyed_digest(
        "refresco/operator-token/v1",
        &[expected.expose().as_bytes()],
    );
    let given = keys.keyed_digest("refresco/operator-token/v1", &[given.as_bytes()]);
    expected.as_bytes().ct_eq(given.as_bytes()).into()
}

/// Allows a request that carries the operator token as a bearer token.
pub fn require_bearer(
    config: &Config,
    keys: &MasterKey,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    if config.operator_token.is_none() {
        return Err(disabled());
    }
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(token) if token_matches(config, keys, token) => Ok(()),
        _ => Err(invalid_token()),
    }
}
