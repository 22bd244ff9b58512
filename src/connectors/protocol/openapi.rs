//! The protocol as an OpenAPI 3.1 document, generated from the very types the engine and the
//! sandbox server exchange, so it cannot drift from them. `refresco connector openapi` prints
//! it; `docs/connector-protocol.openapi.json` is that output, and a test keeps them equal.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    AccountsRequest, AccountsResponse, ErrorBody, ErrorResponse, LoginRequest, LoginResponse,
    Manifest, MfaRequest, MfaResponse, MovementsRequest, MovementsResponse,
};

/// `Refresco-Connector-Protocol: 1` on every request.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // Read by the OpenAPI derive only.
struct ProtocolHeader {
    /// The protocol version the caller speaks: `1`.
    #[param(rename = "Refresco-Connector-Protocol", value_type = String, example = "1")]
    version: String,
}

/// The banks this connector serves.
#[utoipa::path(get, path = "/manifest", params(ProtocolHeader),
    responses((status = 200, body = Manifest), (status = "default", body = ErrorResponse)),
    security(("bearer" = [])))]
#[allow(dead_code)]
fn manifest() {}

/// Logs in with the holder's credentials; the bank may ask for a second factor.
#[utoipa::path(post, path = "/login", params(ProtocolHeader), request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = "default", body = ErrorResponse)),
    security(("bearer" = [])))]
#[allow(dead_code)]
fn login() {}

/// Completes a login with the holder's answer to the challenge.
#[utoipa::path(post, path = "/mfa", params(ProtocolHeader), request_body = MfaRequest,
    responses((status = 200, body = MfaResponse), (status = "default", body = ErrorResponse)),
    security(("bearer" = [])))]
#[allow(dead_code)]
fn mfa() {}

/// The holder's accounts.
#[utoipa::path(post, path = "/accounts", params(ProtocolHeader), request_body = AccountsRequest,
    responses((status = 200, body = AccountsResponse), (status = "default", body = ErrorResponse)),
    security(("bearer" = [])))]
#[allow(dead_code)]
fn accounts() {}

/// One page of an account's movements in a window, newest first.
#[utoipa::path(post, path = "/movements", params(ProtocolHeader), request_body = MovementsRequest,
    responses((status = 200, body = MovementsResponse), (status = "default", body = ErrorResponse)),
    security(("bearer" = [])))]
#[allow(dead_code)]
fn movements() {}

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Refresco connector protocol",
        version = "1",
        description = "A bank connector as an HTTP service. See docs/connectors.md."
    ),
    paths(manifest, login, mfa, accounts, movements),
    components(schemas(ErrorBody)),
    modifiers(&Bearer)
)]
struct ProtocolDoc;

/// The document, as JSON.
pub fn document() -> serde_json::Value {
    serde_json::to_value(ProtocolDoc::openapi()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_document_is_the_generated_one() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/connector-protocol.openapi.json"
        );
        let shipped: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert!(
            shipped == document(),
            "{path} is out of date: regenerate it with \
             `cargo run -- connector openapi > docs/connector-protocol.openapi.json`"
        );
    }

    #[test]
    fn every_message_is_described() {
        let doc = document();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for name in [
            "Manifest",
            "Institution",
            "LoginRequest",
            "Credentials",
            "LoginResponse",
            "MfaChallenge",
            "MfaRequest",
            "MfaAnswer",
            "AccountsRequest",
            "AccountsResponse",
            "BankAccount",
            "MovementsRequest",
            "MovementsResponse",
            "BankMovement",
            "ErrorResponse",
            "ErrorBody",
        ] {
            assert!(schemas.contains_key(name), "{name} missing");
        }
        for path in ["/manifest", "/login", "/mfa", "/accounts", "/movements"] {
            assert!(doc["paths"][path].is_object(), "{path} missing");
        }
    }
}
