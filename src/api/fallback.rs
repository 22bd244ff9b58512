//! Answers for requests no handler takes, and a safety net that turns any non-JSON error the
//! framework produces (path rejections, 405s, panics) into Fintoc's error JSON, because the
//! official clients parse every non-2xx body as JSON.

use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::error::{truncate, ApiError, ErrorType};

/// Unknown routes.
pub async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::client(
        StatusCode::NOT_FOUND,
        ErrorType::InvalidRequest,
        "invalid_url",
        format!(
            "Unrecognized request URL ({method} {}).",
            truncate(uri.path(), 120)
        ),
    )
}

/// Known routes called with a method they do not have.
pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::client(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorType::InvalidRequest,
        "operation_not_allowed",
        format!("{method} is not allowed on {}.", truncate(uri.path(), 120)),
    )
}

/// Middleware body: leaves JSON and successful responses alone, rewrites the rest.
pub async fn ensure_json_errors(mut response: Response) -> Response {
    let status = response.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE || status == StatusCode::REQUEST_TIMEOUT {
        // The rest of the body was not read: the connection cannot carry another request.
        // Saying so stops clients from reusing it (they would see a truncated answer).
        response.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        // The operator dashboard answers its errors as pages, for a person.
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if status.as_u16() < 400 || is_json {
        return response;
    }
    let (code, message) = match status {
        StatusCode::BAD_REQUEST => ("invalid_request", "The request is malformed."),
        StatusCode::NOT_FOUND => ("invalid_url", "Unrecognized request URL."),
        StatusCode::METHOD_NOT_ALLOWED => ("operation_not_allowed", "Method not allowed."),
        StatusCode::PAYLOAD_TOO_LARGE => ("request_too_large", "The request body is too large."),
        StatusCode::REQUEST_TIMEOUT => ("request_timeout", "The request took too long to arrive."),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("invalid_request", "Send JSON bodies."),
        s if s.is_server_error() => {
            return ApiError::Internal(anyhow::anyhow!("framework answered {s} without a body"))
                .into_response()
        }
        _ => ("invalid_request", "The request could not be processed."),
    };
    let mut fixed =
        ApiError::client(status, ErrorType::InvalidRequest, code, message).into_response();
    // Keep headers such as `Allow` on a 405.
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            fixed.headers_mut().insert(name.clone(), value.clone());
        }
    }
    fixed
}

/// The 500 answer for a handler that panicked; the panic itself is logged by the layer.
pub fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::Internal(anyhow::anyhow!("handler panicked")).into_response()
}
