//! `ApiError`: the one place that maps failures to an HTTP status and Fintoc's error JSON
//! (`{"error": {"type", "code", "message", "param", "doc_url"}}`). Internal detail is logged
//! once here and never sent to the client.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// Where every error body points, as Fintoc's do.
pub const DOC_URL: &str = "https://docs.fintoc.com/reference/errors";

/// Fintoc's `error.type`, which the official clients turn into an exception class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorType {
    /// `invalid_request_error` → `InvalidRequestError`
    InvalidRequest,
    /// `authentication_error` → `AuthenticationError`
    Authentication,
    /// `link_error` → `LinkError`
    Link,
    /// `institution_error` → `InstitutionError`
    Institution,
    /// `api_error` → `ApiError`
    Api,
}

impl ErrorType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::InvalidRequest => "invalid_request_error",
            ErrorType::Authentication => "authentication_error",
            ErrorType::Link => "link_error",
            ErrorType::Institution => "institution_error",
            ErrorType::Api => "api_error",
        }
    }
}

/// Every error an API request can end in.
#[derive(Debug)]
pub enum ApiError {
    /// The client can act on it: a 4xx (or a 503 for a bank that is down) with a Fintoc body.
    Client {
        /// HTTP status.
        status: StatusCode,
        /// `error.type`.
        error_type: ErrorType,
        /// `error.code`, machine-readable and stable.
        code: &'static str,
        /// `error.message`, for people.
        message: String,
        /// `error.param`, the offending parameter.
        param: Option<String>,
        /// Extra machine-readable fields merged into `error` (for example `retry_after`).
        extra: Option<serde_json::Map<String, Value>>,
    },
    /// Our fault: logged with its cause, answered as a bare 500.
    Internal(anyhow::Error),
}

impl ApiError {
    /// A client error of any type.
    pub fn client(
        status: StatusCode,
        error_type: ErrorType,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        ApiError::Client {
            status,
            error_type,
            code,
            message: message.into(),
            param: None,
            extra: None,
        }
    }

    /// An `invalid_request_error` with a 400 status.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::client(
            StatusCode::BAD_REQUEST,
            ErrorType::InvalidRequest,
            code,
            message,
        )
    }

    /// Names the parameter at fault.
    pub fn with_param(mut self, name: impl Into<String>) -> Self {
        if let ApiError::Client { param, .. } = &mut self {
            *param = Some(name.into());
        }
        self
    }

    /// Adds a machine-readable field to the error object.
    pub fn with_extra(mut self, key: &str, value: Value) -> Self {
        if let ApiError::Client { extra, .. } = &mut self {
            extra
                .get_or_insert_with(Default::default)
                .insert(key.to_owned(), value);
        }
        self
    }

    /// A required parameter is absent.
    pub fn missing_param(name: &str) -> Self {
        Self::bad_request(
            "missing_parameter",
            format!("Missing required param: {name}"),
        )
        .with_param(name)
    }

    /// A parameter has the wrong type or value.
    pub fn invalid_param(name: &str, why: impl std::fmt::Display) -> Self {
        Self::bad_request(
            "invalid_params",
            format!("Invalid value for param {name}: {why}"),
        )
        .with_param(name)
    }

    /// A missing or unknown API key.
    pub fn invalid_api_key() -> Self {
        Self::client(
            StatusCode::UNAUTHORIZED,
            ErrorType::Authentication,
            "invalid_api_key",
            "Invalid API Key. Send a valid secret key in the Authorization header.",
        )
    }

    /// A valid key of the wrong kind (a public key where a secret one belongs, or the reverse).
    pub fn wrong_key_kind(expected: &str) -> Self {
        Self::client(
            StatusCode::UNAUTHORIZED,
            ErrorType::Authentication,
            "invalid_api_key",
            format!("This endpoint needs a {expected} key."),
        )
    }

    /// A link token that is malformed, unknown, deleted, or of another organization or mode.
    /// All of these look the same to the caller, so nothing leaks about other tenants.
    pub fn invalid_link_token() -> Self {
        Self::client(
            StatusCode::NOT_FOUND,
            ErrorType::InvalidRequest,
            "invalid_link_token",
            "Invalid link token: no such link for this API key.",
        )
        .with_param("link_token")
    }

    /// An object that does not exist (or belongs to someone else).
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::client(
            StatusCode::NOT_FOUND,
            ErrorType::InvalidRequest,
            "missing_resource",
            format!("No such {what}: {}", truncate(id, 80)),
        )
    }

    /// The body is not valid JSON or not an object of the expected shape.
    pub fn invalid_json(why: impl std::fmt::Display) -> Self {
        Self::bad_request(
            "invalid_json",
            format!("The request body is not valid JSON: {why}"),
        )
    }

    /// Only allowed with test-mode keys.
    pub fn test_mode_only(what: &str) -> Self {
        Self::client(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorType::InvalidRequest,
            "not_supported_mode",
            format!("{what} is only available in test mode (use a sk_test_ key)."),
        )
    }

    /// The status and the JSON body this error is answered with.
    pub(crate) fn body(&self) -> (StatusCode, Value) {
        match self {
            ApiError::Client {
                status,
                error_type,
                code,
                message,
                param,
                extra,
            } => {
                let mut error = json!({
                    "type": error_type.as_str(),
                    "code": code,
                    "message": message,
                    "param": param,
                    "doc_url": DOC_URL,
                });
                if let (Some(extra), Some(object)) = (extra, error.as_object_mut()) {
                    object.extend(extra.clone());
                }
                (*status, json!({ "error": error }))
            }
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": {
                    "type": "api_error",
                    "code": "internal_server_error",
                    "message": "Something went wrong on our side. The error was logged.",
                    "param": null,
                    "doc_url": DOC_URL,
                }}),
            ),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Client { code, message, .. } => write!(f, "{code}: {message}"),
            ApiError::Internal(e) => write!(f, "internal error: {e:#}"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(error = format!("{cause:#}"), "request failed");
        }
        // An error that says when to try again says it in the header too, where HTTP clients
        // and their retry policies look for it.
        let retry_after = match &self {
            ApiError::Client {
                extra: Some(extra), ..
            } => extra
                .get("retry_after_seconds")
                .and_then(Value::as_i64)
                .and_then(|s| axum::http::HeaderValue::try_from(s.max(0).to_string()).ok()),
            _ => None,
        };
        let (status, body) = self.body();
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(value) = retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, value);
        }
        response
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::Internal(e)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::Internal(e.into())
    }
}

/// Echoed user input is cut with the same rule everywhere (the webhook attempt log too).
pub use crate::domain::text::truncate;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_have_the_fintoc_shape() {
        let (status, body) = ApiError::missing_param("link_token").body();
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert_eq!(body["error"]["code"], "missing_parameter");
        assert_eq!(body["error"]["param"], "link_token");
        assert_eq!(body["error"]["doc_url"], DOC_URL);
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let err = ApiError::Internal(anyhow::anyhow!("password=hunter2 in SQL"));
        let (status, body) = err.body();
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!body.to_string().contains("hunter2"));
        assert_eq!(body["error"]["type"], "api_error");
    }

    #[test]
    fn extra_fields_merge_into_the_error_object() {
        let err = ApiError::bad_request("rate_limit_exceeded", "wait")
            .with_extra("retry_after", json!("2026-01-01T00:00:00.000Z"));
        let (_, body) = err.body();
        assert_eq!(body["error"]["retry_after"], "2026-01-01T00:00:00.000Z");
    }
}
