//! How the engine's errors reach a client: the one place that gives each of them its HTTP
//! status, Fintoc error type and code, message, `param` and extra fields. The engine only says
//! what went wrong; the words and numbers a client sees are chosen here.

use axum::http::StatusCode;
use serde_json::json;

use crate::connectors::{ConnectorError, ErrorClass};
use crate::domain::{CreateIntentError, Timestamp};
use crate::engine::link_intents::LinkIntentError;
use crate::engine::linking::LinkingError;
use crate::engine::mfa::MfaError;
use crate::engine::politeness::Closed;
use crate::error::{ApiError, ErrorType};

/// An `invalid_request_error` with a 422 status.
fn unprocessable(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::client(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorType::InvalidRequest,
        code,
        message,
    )
}

/// An `invalid_request_error` with a 409 status: the step came too early.
fn conflict(code: &'static str, message: &str) -> ApiError {
    ApiError::client(
        StatusCode::CONFLICT,
        ErrorType::InvalidRequest,
        code,
        message,
    )
}

/// A wrong second-factor code, with the answers left.
fn invalid_mfa_code(message: String, attempts_left: i64) -> ApiError {
    ApiError::bad_request("invalid_mfa_code", message)
        .with_param("code")
        .with_extra("attempts_left", json!(attempts_left))
}

/// A refresh or a reconnection asked for a link deactivated with `PATCH active=false`.
fn inactive_link() -> ApiError {
    ApiError::bad_request(
        "invalid_on_demand_link",
        "This link is inactive; activate it (PATCH active=true) first.",
    )
    .with_param("link_token")
}

impl From<CreateIntentError> for ApiError {
    fn from(error: CreateIntentError) -> Self {
        match error {
            CreateIntentError::UnknownLink => ApiError::invalid_link_token(),
            CreateIntentError::Inactive => inactive_link(),
            CreateIntentError::LoginRequired => ApiError::client(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorType::Link,
                "rejected_refresh_intent",
                "The institution indicated that the credentials are invalid. You need to reconnect the account.",
            ),
            CreateIntentError::InProgress(link_id) => unprocessable(
                "refresh_intent_in_progress",
                format!("There is already a refresh intent in progress for {link_id}."),
            ),
            CreateIntentError::Cooldown {
                next_refresh_at,
                retry_after_seconds,
            } => ApiError::client(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorType::InvalidRequest,
                "rate_limit_exceeded",
                format!(
                    "This Link was recently refreshed. You have to wait until {} to refresh it again.",
                    next_refresh_at.to_wire()
                ),
            )
            .with_extra("next_refresh_at", json!(next_refresh_at.to_wire()))
            .with_extra("retry_after_seconds", json!(retry_after_seconds)),
            // The idempotency layer answers this itself from the stored key; this is the
            // answer if it ever reaches a client, the same as a key still in use.
            CreateIntentError::IdempotencyKeyTaken => conflict(
                "idempotency_key_in_use",
                "A request with this Idempotency-Key is still being processed; retry later.",
            ),
            CreateIntentError::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<MfaError> for ApiError {
    fn from(error: MfaError) -> Self {
        match error {
            MfaError::Finished => unprocessable(
                "refresh_intent_finished",
                "This refresh intent has already ended.",
            ),
            MfaError::NotFound(id) => ApiError::not_found("refresh_intent", id.as_str()),
            MfaError::AlreadyCompleted => unprocessable(
                "mfa_already_completed",
                "The second factor was already given.",
            ),
            MfaError::Exhausted => unprocessable(
                "mfa_expired",
                "The second-factor challenge expired or has no attempts left; create a new refresh intent.",
            ),
            MfaError::NotRequestedYet => conflict(
                "mfa_not_requested_yet",
                "The bank has not asked for the second factor yet; retry in a moment.",
            ),
            MfaError::ExpiredMeanwhile => {
                unprocessable("mfa_expired", "The second-factor challenge expired.")
            }
            MfaError::BankExpired => {
                unprocessable("mfa_expired", "The bank says the challenge expired.")
            }
            MfaError::WrongCode { attempts_left } => invalid_mfa_code(
                format!("The second-factor code is wrong; {attempts_left} attempt(s) left."),
                attempts_left,
            ),
            MfaError::BankUnavailable => ApiError::client(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorType::Institution,
                "unavailable_institution",
                "The bank could not check the second factor; try again.",
            ),
            MfaError::InstitutionClosed(closed) => institution_closed(closed),
            MfaError::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<LinkingError> for ApiError {
    fn from(error: LinkingError) -> Self {
        match error {
            LinkingError::UnknownInstitution => ApiError::bad_request(
                "invalid_institution",
                "Unknown institution_id. In test mode use a sandbox bank such as cl_banco_sandbox.",
            )
            .with_param("institution_id"),
            LinkingError::MfaRequired(kind) => ApiError::client(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorType::Link,
                "mfa_required",
                format!(
                    "The bank asks for a second factor ({}). Send it as mfa_code, or connect \
                     the bank through the widget.",
                    kind.as_str()
                ),
            )
            .with_param("mfa_code"),
            LinkingError::Bank(error) => bank_error(&error),
            LinkingError::InstitutionClosed(closed) => institution_closed(closed),
            LinkingError::LinkNotFound => ApiError::invalid_link_token(),
            LinkingError::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<LinkIntentError> for ApiError {
    fn from(error: LinkIntentError) -> Self {
        let exchange = |code, message| unprocessable(code, message).with_param("exchange_token");
        match error {
            LinkIntentError::InvalidCountry => ApiError::bad_request(
                "invalid_country",
                "No institution is available for this country (the sandbox has cl and mx).",
            )
            .with_param("country"),
            LinkIntentError::NotFound(id) => ApiError::not_found("link_intent", &id),
            LinkIntentError::InvalidWidgetToken => ApiError::client(
                StatusCode::NOT_FOUND,
                ErrorType::InvalidRequest,
                "invalid_widget_token",
                "Invalid widget token.",
            ),
            LinkIntentError::InvalidExchangeToken => ApiError::client(
                StatusCode::NOT_FOUND,
                ErrorType::InvalidRequest,
                "invalid_exchange_token",
                "Invalid exchange token: no such link intent for this API key.",
            )
            .with_param("exchange_token"),
            LinkIntentError::Finished => unprocessable(
                "link_intent_finished",
                "This bank connection was already completed; its widget token cannot be used again.",
            ),
            LinkIntentError::Failed => unprocessable(
                "link_intent_failed",
                "Too many failed logins; close the widget and start again.",
            ),
            LinkIntentError::Expired => unprocessable(
                "link_intent_expired",
                "This connection request expired; close the widget and start again.",
            ),
            LinkIntentError::ExchangeTokenUsed => exchange(
                "exchange_token_used",
                "This exchange token was already used: a link token is shown only once.",
            ),
            LinkIntentError::ExchangeTokenExpired => exchange(
                "exchange_token_expired",
                "This exchange token expired (see exchange_token_expires_at).",
            ),
            LinkIntentError::NotSucceeded => exchange(
                "link_intent_not_succeeded",
                "The holder has not finished connecting their bank through the widget.",
            ),
            LinkIntentError::LinkNotFound(id) => ApiError::not_found("link", id.as_str()),
            LinkIntentError::InstitutionNotInCountry => ApiError::bad_request(
                "invalid_institution",
                "This institution is not offered for the link intent's country.",
            )
            .with_param("institution_id"),
            LinkIntentError::LoginRefused {
                error,
                attempts_left,
            } => bank_error(&error).with_extra("login_attempts_left", json!(attempts_left)),
            LinkIntentError::MfaNotRequested => conflict(
                "mfa_not_requested",
                "The bank has not asked for a second factor; log in first.",
            ),
            LinkIntentError::MfaExpired => unprocessable(
                "mfa_expired",
                "The second-factor challenge expired; log in again.",
            ),
            LinkIntentError::WrongMfaCode { attempts_left } => {
                let message = if attempts_left == 0 {
                    "The code is wrong and no attempts are left; log in again.".to_owned()
                } else {
                    format!("The code is wrong; {attempts_left} attempt(s) left.")
                };
                invalid_mfa_code(message, attempts_left)
            }
            LinkIntentError::LinkInactive => inactive_link(),
            // A well-formed value that the stored link contradicts: 422, as other refusals
            // that depend on the state of things.
            LinkIntentError::NotTheLinks(param) => unprocessable(
                "link_mismatch",
                format!("{param} must be the one of the link being reconnected."),
            )
            .with_param(param),
            LinkIntentError::Missing(param) => ApiError::missing_param(param),
            LinkIntentError::Linking(error) => error.into(),
            LinkIntentError::Internal(e) => ApiError::Internal(e),
        }
    }
}

/// How a bank's refusal at login (link creation, reconnection, the widget) reaches the client:
/// the connector's own words, as a sentence.
fn bank_error(error: &ConnectorError) -> ApiError {
    let (status, error_type, code) = match error {
        ConnectorError::InvalidCredentials => (
            StatusCode::NOT_ACCEPTABLE,
            ErrorType::Link,
            "institution_credentials_invalid",
        ),
        ConnectorError::CredentialsLocked => (
            StatusCode::NOT_ACCEPTABLE,
            ErrorType::Link,
            "locked_credentials",
        ),
        ConnectorError::WrongMfaCode { .. } | ConnectorError::MfaExpired => (
            StatusCode::NOT_ACCEPTABLE,
            ErrorType::Link,
            "invalid_mfa_code",
        ),
        ConnectorError::Unavailable | ConnectorError::SessionExpired { .. } => (
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorType::Institution,
            "unavailable_institution",
        ),
        ConnectorError::PasswordExpired => (
            StatusCode::NOT_ACCEPTABLE,
            ErrorType::Link,
            "password_expired",
        ),
        ConnectorError::ActionNeeded => {
            (StatusCode::NOT_ACCEPTABLE, ErrorType::Link, "action_needed")
        }
        ConnectorError::RateLimited => (
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorType::Institution,
            "unavailable_institution",
        ),
        ConnectorError::Classified { class, .. } => match class {
            ErrorClass::Person => (
                StatusCode::NOT_ACCEPTABLE,
                ErrorType::Link,
                "holder_action_required",
            ),
            ErrorClass::Transient => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorType::Institution,
                "unavailable_institution",
            ),
            ErrorClass::Connector => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorType::Institution,
                "support_required",
            ),
        },
        ConnectorError::SupportRequired
        | ConnectorError::AccountFailed { .. }
        | ConnectorError::Other(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorType::Institution,
            "support_required",
        ),
    };
    ApiError::client(status, error_type, code, capitalize(&error.to_string()))
}

/// A login the gate kept from its bank (docs/politeness.md): 503 `unavailable_institution`,
/// as when the bank itself is down, with when to try again.
fn institution_closed(closed: Closed) -> ApiError {
    let (until, message) = match closed {
        Closed::Down(until) => (
            until,
            "The institution has not been answering; Refresco lets it recover before the next \
             login. Try again after retry_after_seconds.",
        ),
        Closed::Busy(until) => (
            until,
            "Every session at the institution is in use; try again after retry_after_seconds.",
        ),
    };
    let seconds = ((until.millis() - Timestamp::now().millis()) + 999).max(1000) / 1000;
    ApiError::client(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorType::Institution,
        "unavailable_institution",
        message,
    )
    .with_extra("retry_after_seconds", json!(seconds))
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>() + ".",
        None => String::new(),
    }
}
