//! `Idempotency-Key` on every POST: the first response for a key is stored per organization
//! and mode and replayed for 24 hours; the same key with a different request is an error.
//! Nothing is stored when authentication fails. A request that ends in a 5xx releases its key,
//! so a retry (the point of an idempotency key) really runs again; see `docs/api.md`.
//!
//! `POST /v1/refresh_intents`, which the official clients send with a key every time, does not
//! claim its key first: its create stores the key with its answer in the create's own
//! transaction ([`KeyedCreate`]), so a keyed create costs the same one write as an unkeyed one.
//! A create that finds its key stored writes nothing, and the request is then answered like
//! any keyed request from what the key holds; a refused create (4xx) stores its answer after.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use super::extract::{authenticate, body_too_large};
use super::limits::{body_timed_out, is_body_timeout};
use super::AppState;
use crate::crypto::MasterKey;
use crate::domain::wire::RefreshIntentOut;
use crate::domain::{Mode, OrganizationId, RefreshIntent};
use crate::error::{ApiError, ErrorType};
use crate::store::{
    Fingerprint, IdempotencyClaim, IntentAnswer, KeyedCreate, StoredResponse, KEYED_PREFIX,
};

const HEADER: &str = "idempotency-key";
const MAX_KEY_LEN: usize = 255;
/// Responses larger than this are answered but not kept for replay.
const MAX_STORED_BODY: usize = 1024 * 1024;
/// The route whose handler stores its own key's answer.
const SELF_STORING: &str = "/v1/refresh_intents";

/// Given to the create of a keyed `POST /v1/refresh_intents` (a request extension).
#[derive(Clone)]
pub struct KeyedIntent(pub KeyedCreate);

/// On the response of a create that stored its key's answer itself.
#[derive(Clone, Copy)]
pub struct AnswerStored;

/// On the response of a create that found its key already stored and wrote nothing.
#[derive(Clone, Copy)]
pub struct KeyTaken;

/// The answer to a created intent, as `POST /v1/refresh_intents` writes it, sealed for its key.
struct SealedIntentAnswer {
    keys: std::sync::Arc<MasterKey>,
    owner: String,
}

impl IntentAnswer for SealedIntentAnswer {
    fn body(&self, intent: &RefreshIntent) -> Vec<u8> {
        intent_body(&self.keys, intent)
    }

    fn stored(&self, body: &[u8]) -> String {
        BASE64.encode(self.keys.seal(&self.owner, body))
    }
}

/// The body of a created intent's answer, keyed or not (`requires_mfa` shows the widget token
/// while the second factor is pending).
pub fn intent_body(keys: &MasterKey, intent: &RefreshIntent) -> Vec<u8> {
    serde_json::to_vec(&RefreshIntentOut::new(keys, intent)).expect("a refresh intent serializes")
}

/// The middleware.
pub async fn idempotency(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(raw_key) = request.headers().get(HEADER) else {
        return next.run(request).await;
    };
    let key = match raw_key.to_str().map(str::trim) {
        Ok(k) if !k.is_empty() && k.len() <= MAX_KEY_LEN => k.to_owned(),
        _ => {
            return ApiError::bad_request(
                "invalid_idempotency_key",
                "Idempotency-Key must be 1 to 255 visible ASCII characters.",
            )
            .into_response()
        }
    };
    let principal = match authenticate(&state, request.headers()).await {
        Ok(Some(p)) => p,
        // The handler answers the 401; nothing is stored for an unauthenticated request.
        Ok(None) => return next.run(request).await,
        Err(e) => return e.into_response(),
    };

    let (mut parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, state.config.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(e) if is_body_timeout(&e) => return body_timed_out().into_response(),
        Err(_) => return body_too_large().into_response(),
    };
    let fingerprint = fingerprint(&state.keys, &parts.method, &parts.uri, &bytes);
    let store = &state.store;
    let (org, mode) = (&principal.organization_id, principal.mode);
    parts.extensions.insert(principal.clone());
    if parts.uri.path() == SELF_STORING {
        let mut first = parts.clone();
        let keyed = KeyedCreate {
            key: key.clone(),
            fingerprint: fingerprint.keyed.clone(),
            status: StatusCode::CREATED.as_u16(),
            answer: std::sync::Arc::new(SealedIntentAnswer {
                keys: state.keys.clone(),
                owner: seal_owner(org, mode, &key),
            }),
        };
        first.extensions.insert(KeyedIntent(keyed));
        let response = next
            .clone()
            .run(Request::from_parts(first, Body::from(bytes.clone())))
            .await;
        let taken = response.extensions().get::<KeyTaken>().is_some();
        if response.extensions().get::<AnswerStored>().is_some()
            || response.status().is_server_error()
        {
            return response;
        }
        if !taken {
            if let Ok(response) =
                store_answer(&state, org, mode, &key, &fingerprint.keyed, response).await
            {
                return response;
            }
        }
        // The key is someone else's (or was, and expired): answer from what it holds.
    }
    match store
        .claim_idempotency_key(org, mode, &key, &fingerprint)
        .await
    {
        Err(e) => return ApiError::Internal(e).into_response(),
        Ok(IdempotencyClaim::Replay(stored)) => {
            return match unseal_body(&state, org, mode, &key, &stored.body) {
                Ok(body) => replay(stored.status, body),
                Err(e) => ApiError::Internal(e).into_response(),
            }
        }
        Ok(IdempotencyClaim::InProgress) => {
            return ApiError::client(
                StatusCode::CONFLICT,
                ErrorType::InvalidRequest,
                "idempotency_key_in_use",
                "A request with this Idempotency-Key is still being processed; retry later.",
            )
            .into_response()
        }
        Ok(IdempotencyClaim::Mismatch) => {
            return ApiError::bad_request(
                "idempotency_key_reused",
                "This Idempotency-Key was already used with different parameters.",
            )
            .into_response()
        }
        Ok(IdempotencyClaim::Claimed) => {}
    }

    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let status = response.status();
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, MAX_STORED_BODY).await {
        Ok(b) => b,
        Err(e) => {
            let _ = store.release_idempotency_key(org, mode, &key).await;
            return ApiError::Internal(anyhow::anyhow!("response too large to store: {e}"))
                .into_response();
        }
    };
    let outcome = if status.is_server_error() {
        store.release_idempotency_key(org, mode, &key).await
    } else {
        // Answers can hold secrets shown only once (a new link's token, a link intent's
        // tokens): the stored copy is sealed, bound to this organization, mode and key.
        let sealed = state.keys.seal(&seal_owner(org, mode, &key), &body);
        let stored = StoredResponse {
            status: status.as_u16(),
            body: BASE64.encode(sealed),
        };
        store
            .complete_idempotency_key(org, mode, &key, &stored)
            .await
    };
    if let Err(e) = outcome {
        tracing::error!(
            error = format!("{e:#}"),
            "recording an idempotent response failed"
        );
    }
    Response::from_parts(parts, Body::from(body))
}

/// Stores `response`, the answer of a create that wrote nothing, for its key; or, when another
/// request stored the key first, `Err` (the request is then answered from what that one stored).
async fn store_answer(
    state: &AppState,
    org: &OrganizationId,
    mode: Mode,
    key: &str,
    fingerprint: &str,
    response: Response,
) -> Result<Response, ()> {
    let status = response.status();
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, MAX_STORED_BODY).await {
        Ok(b) => b,
        Err(e) => {
            return Ok(
                ApiError::Internal(anyhow::anyhow!("response too large to store: {e}"))
                    .into_response(),
            )
        }
    };
    let stored = StoredResponse {
        status: status.as_u16(),
        body: BASE64.encode(state.keys.seal(&seal_owner(org, mode, key), &body)),
    };
    match state
        .store
        .record_idempotency_answer(org, mode, key, fingerprint, &stored)
        .await
    {
        Ok(true) => Ok(Response::from_parts(parts, Body::from(body))),
        Ok(false) => Err(()),
        Err(e) => Ok(ApiError::Internal(e).into_response()),
    }
}

/// What makes two requests "the same": method, path, query and the body's JSON meaning
/// (key order and whitespace do not matter, since clients serialize differently). The body may
/// hold a bank password, so what is stored is keyed with the master key ([`Fingerprint`]).
fn fingerprint(
    keys: &MasterKey,
    method: &Method,
    uri: &axum::http::Uri,
    body: &[u8],
) -> Fingerprint {
    let canonical_body = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) => value.to_string(),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    let parts = [
        method.as_str().to_owned(),
        uri.path().to_owned(),
        uri.query().unwrap_or("").to_owned(),
        canonical_body,
    ];
    let keyed = keys.keyed_digest(
        "refresco/idempotency-fingerprint/v1",
        &parts.each_ref().map(|p| p.as_bytes()),
    );
    Fingerprint {
        keyed: format!("{KEYED_PREFIX}{keyed}"),
        parts,
    }
}

/// What a stored answer is sealed to.
fn seal_owner(org: &OrganizationId, mode: Mode, key: &str) -> String {
    format!("idempotency:{org}:{}:{key}", mode.as_str())
}

fn unseal_body(
    state: &AppState,
    org: &OrganizationId,
    mode: Mode,
    key: &str,
    stored: &str,
) -> anyhow::Result<Vec<u8>> {
    let sealed = BASE64.decode(stored)?;
    Ok(state
        .keys
        .unseal(&seal_owner(org, mode, key), &sealed)?
        .to_vec())
}

fn replay(status: u16, body: Vec<u8>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        HeaderName::from_static("idempotent-replayed"),
        HeaderValue::from_static("true"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn fingerprint_ignores_json_formatting_but_not_content() {
        let keys = MasterKey::generate();
        let uri: axum::http::Uri = "/v1/links?x=1".parse().unwrap();
        let a = fingerprint(&keys, &Method::POST, &uri, br#"{"a": 1, "b": 2}"#);
        let b = fingerprint(&keys, &Method::POST, &uri, br#"{"b":2,"a":1}"#);
        let c = fingerprint(&keys, &Method::POST, &uri, br#"{"a":1,"b":3}"#);
        let other_uri: axum::http::Uri = "/v1/links?x=2".parse().unwrap();
        assert_eq!(a, b);
        assert_ne!(a.keyed, c.keyed);
        assert_ne!(
            a.keyed,
            fingerprint(&keys, &Method::POST, &other_uri, br#"{"a":1,"b":2}"#).keyed
        );
    }

    #[test]
    fn fingerprints_are_keyed_and_unkeyed_ones_still_match() {
        let uri: axum::http::Uri = "/v1/links".parse().unwrap();
        let body = br#"{"username":"41614850-3","password":"jonsnow"}"#;
        let here = fingerprint(&MasterKey::generate(), &Method::POST, &uri, body);
        let there = fingerprint(&MasterKey::generate(), &Method::POST, &uri, body);
        assert!(here.keyed.starts_with(KEYED_PREFIX));
        assert_ne!(
            here.keyed, there.keyed,
            "installs do not share fingerprints"
        );
        assert_eq!(here.unkeyed(), there.unkeyed());
        // The plain SHA-256 of the length-prefixed parts, as stored without a key.
        let mut plain = Sha256::new();
        for part in [
            "POST",
            "/v1/links",
            "",
            r#"{"password":"jonsnow","username":"41614850-3"}"#,
        ] {
            plain.update(part.len().to_le_bytes());
            plain.update(part.as_bytes());
        }
        let plain = hex::encode(plain.finalize());
        assert!(
            here.matches(&plain),
            "a row stored unkeyed still matches its request"
        );
        assert!(here.matches(&here.keyed));
        assert!(
            !here.matches(&there.keyed),
            "another install's digest is not ours"
        );
        let other = fingerprint(&MasterKey::generate(), &Method::POST, &uri, b"{}");
        assert!(!other.matches(&plain));
    }
}
