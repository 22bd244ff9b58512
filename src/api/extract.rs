//! Extractors with our error format: API keys, link tokens, JSON bodies and query strings.
//! Handlers list them in this order (key, then link token, then input), so a bad key is a 401
//! before anything else is looked at.

use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use serde::de::DeserializeOwned;

use super::body_text::{from_body, BodyError};
use super::AppState;
use crate::domain::{KeyKind, Link, LinkToken, Principal};
use crate::error::{truncate, ApiError};

/// Reads `Authorization: <key>` or `Authorization: Bearer <key>`.
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let key = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .unwrap_or(value)
        .trim();
    (!key.is_empty()).then_some(key)
}

/// The presented key when it has the shape of one of ours: junk never reaches the database.
fn shaped_key(headers: &HeaderMap) -> Option<&str> {
    let key = presented_key(headers)?;
    let shaped = ["sk_test_", "sk_live_", "pk_test_", "pk_live_"]
        .iter()
        .any(|p| key.starts_with(p))
        && key.len() <= 128;
    shaped.then_some(key)
}

/// The prefix must agree with what the key was issued as (defence in depth).
fn issued_as(key: &str, principal: &Principal) -> bool {
    key.starts_with(principal.kind.prefix()) && key[3..].starts_with(principal.mode.as_str())
}

/// Authenticates the request's key, of either kind. `None` when there is no valid key.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Principal>, ApiError> {
    let Some(key) = shaped_key(headers) else {
        return Ok(None);
    };
    let principal = state
        .store
        .find_principal(&state.keys.hash_token(key))
        .await?;
    Ok(principal.filter(|p| issued_as(key, p)))
}

async fn principal_of_kind(
    parts: &mut Parts,
    state: &AppState,
    kind: KeyKind,
) -> Result<Principal, ApiError> {
    if let Some(principal) = parts.extensions.get::<Principal>() {
        return check_kind(principal.clone(), kind);
    }
    let principal = authenticate(state, &parts.headers)
        .await?
        .ok_or_else(ApiError::invalid_api_key)?;
    parts.extensions.insert(principal.clone());
    check_kind(principal, kind)
}

fn check_kind(principal: Principal, kind: KeyKind) -> Result<Principal, ApiError> {
    if principal.kind == kind {
        Ok(principal)
    } else {
        Err(ApiError::wrong_key_kind(kind.as_str()))
    }
}

/// A request authenticated with a secret key (`sk_…`).
#[derive(Debug, Clone)]
pub struct SecretKey(pub Principal);

impl<S> FromRequestParts<S> for SecretKey
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        principal_of_kind(parts, &state, KeyKind::Secret)
            .await
            .map(SecretKey)
    }
}

/// Resolves a presented link token to a live link of the principal's organization and mode.
/// Every failure (malformed, unknown, deleted, foreign, wrong secret) is the same error.
pub async fn resolve_link_token(
    state: &AppState,
    principal: &Principal,
    token: &str,
) -> Result<Link, ApiError> {
    let token = LinkToken::parse(token).ok_or_else(ApiError::invalid_link_token)?;
    resolve_parsed(state, principal, &token).await
}

async fn resolve_parsed(
    state: &AppState,
    principal: &Principal,
    token: &LinkToken,
) -> Result<Link, ApiError> {
    let found = state
        .store
        .link_with_token_hash(&principal.organization_id, principal.mode, token.link_id())
        .await?;
    open_link(state, token, found)
}

/// The link a parsed token opens, given the live link its id names (with its stored hash).
fn open_link(
    state: &AppState,
    token: &LinkToken,
    found: Option<(Link, String)>,
) -> Result<Link, ApiError> {
    match found {
        Some((link, hash)) if state.keys.verify_token(token.expose(), &hash) => Ok(link),
        _ => Err(ApiError::invalid_link_token()),
    }
}

/// The link named by the `link_token` query parameter, for a secret key.
#[derive(Debug, Clone)]
pub struct LinkScope {
    /// The key's principal.
    pub principal: Principal,
    /// The link the token opens.
    pub link: Link,
}

#[derive(serde::Deserialize)]
struct LinkTokenQuery {
    link_token: Option<String>,
}

impl<S> FromRequestParts<S> for LinkScope
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        // The errors keep the extractors' order (key, then the token's presence, then the
        // token), but when no earlier extractor authenticated the key, the key and the link
        // are read in one statement.
        let query: Result<Query<LinkTokenQuery>, ApiError> =
            Query::from_request_parts(parts, &()).await;
        let token = query.as_ref().ok().and_then(|q| {
            let text = q.0.link_token.as_deref().filter(|t| !t.is_empty())?;
            Some(LinkToken::parse(text))
        });
        let (principal, found) = match parts.extensions.get::<Principal>() {
            Some(principal) => (principal.clone(), None),
            None => {
                let key = shaped_key(&parts.headers).ok_or_else(ApiError::invalid_api_key)?;
                let link_id = token
                    .as_ref()
                    .and_then(|t| t.as_ref().map(LinkToken::link_id));
                let (principal, found) = state
                    .store
                    .principal_with_link(&state.keys.hash_token(key), link_id)
                    .await?
                    .filter(|(p, _)| issued_as(key, p))
                    .ok_or_else(ApiError::invalid_api_key)?;
                parts.extensions.insert(principal.clone());
                (principal, Some(found))
            }
        };
        let principal = check_kind(principal, KeyKind::Secret)?;
        query?;
        let token = token
            .ok_or_else(|| ApiError::missing_param("link_token"))?
            .ok_or_else(ApiError::invalid_link_token)?;
        let link = match found {
            Some(found) => open_link(&state, &token, found)?,
            None => resolve_parsed(&state, &principal, &token).await?,
        };
        Ok(LinkScope { principal, link })
    }
}

/// Query-string parameters; unknown ones are ignored, wrong types are a 400 naming the problem.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let raw = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(raw).map(Query).map_err(|e| {
            ApiError::bad_request(
                "invalid_params",
                format!("Invalid query string: {}", truncate(&e.to_string(), 200)),
            )
        })
    }
}

/// A JSON object body. An empty body counts as `{}` (clients that send every parameter in the
/// query string post no body); the `Content-Type` is not required, since Fintoc's API is JSON
/// only and some clients omit it.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|rejection| {
                let status = rejection.status();
                if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    body_too_large()
                } else if super::limits::is_body_timeout(&rejection) {
                    super::limits::body_timed_out()
                } else {
                    ApiError::bad_request("invalid_request", "The request body could not be read.")
                }
            })?;
        let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        let value: serde_json::Value = serde_json::from_slice(text)
            .map_err(|e| ApiError::invalid_json(truncate(&e.to_string(), 200)))?;
        if !value.is_object() {
            return Err(ApiError::invalid_json("expected a JSON object"));
        }
        match from_body(&value) {
            Ok(parsed) => Ok(JsonBody(parsed)),
            Err(BodyError::Nul(field)) => Err(ApiError::invalid_param(
                &field,
                "text must not contain the NUL character (\\u0000)",
            )),
            Err(BodyError::Invalid { param, error }) => {
                let invalid = ApiError::bad_request(
                    "invalid_params",
                    format!("Invalid body: {}", truncate(&error.to_string(), 200)),
                );
                Err(match param {
                    Some(param) => invalid.with_param(param),
                    None => invalid,
                })
            }
        }
    }
}

/// The error for a body over the configured limit.
pub fn body_too_large() -> ApiError {
    ApiError::client(
        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
        crate::error::ErrorType::InvalidRequest,
        "request_too_large",
        "The request body is too large.",
    )
}

/// A request authenticated with a public key (`pk_…`), for widget-facing endpoints.
#[derive(Debug, Clone)]
pub struct PublicKey(pub Principal);

impl<S> FromRequestParts<S> for PublicKey
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        principal_of_kind(parts, &state, KeyKind::Public)
            .await
            .map(PublicKey)
    }
}
