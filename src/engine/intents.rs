//! Creating a refresh intent: the rules on create, the widget token for banks that ask for a
//! second factor, and the job, committed together.

use axum::http::StatusCode;

use super::EngineContext;
use crate::domain::*;
use crate::error::{ApiError, ErrorType};
use crate::store::{CreateRefreshError, NewRefreshIntent};

/// A created intent, with its widget token when the bank will ask for a second factor.
pub struct CreatedIntent {
    /// The intent.
    pub intent: RefreshIntent,
    /// Shown as `requires_mfa.widget_token`.
    pub widget_token: Option<WidgetToken>,
}

/// Creates an intent for `link`, or says which rule forbids it.
#[tracing::instrument(skip_all, fields(link_id = %link.id))]
pub async fn create(
    ctx: &EngineContext,
    link: &Link,
    refresh_type: RefreshType,
    forced_result: Option<IntentStatus>,
) -> Result<CreatedIntent, ApiError> {
    if !link.active {
        return Err(ApiError::bad_request(
            "invalid_on_demand_link",
            "This link is inactive; activate it (PATCH active=true) before refreshing it.",
        )
        .with_param("link_token"));
    }
    if link.credential_status == CredentialStatus::LoginRequired {
        return Err(ApiError::client(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorType::Link,
            "rejected_refresh_intent",
            "The institution indicated that the credentials are invalid. You need to reconnect the account.",
        ));
    }
    let id = RefreshIntentId::generate();
    // Forced outcomes never reach the bank, so they never need a second factor.
    let mfa = link.login_mfa.filter(|_| forced_result.is_none());
    let widget_token = mfa.map(|_| WidgetToken::generate(&id));
    let now = Timestamp::now();
    let new = NewRefreshIntent {
        id: id.clone(),
        organization_id: link.organization_id.clone(),
        mode: link.mode,
        link_id: link.id.clone(),
        refresh_type,
        forced_result,
        widget_token_hash: widget_token
            .as_ref()
            .map(|t| ctx.keys.hash_token(t.expose())),
        widget_token_sealed: widget_token
            .as_ref()
            .map(|t| ctx.keys.seal(id.as_str(), t.expose().as_bytes())),
        mfa,
        now,
        deadline: now.plus_millis(ctx.refresh_timeout_millis()),
    };
    let intent = match ctx
        .store
        .create_refresh_intent(&new, ctx.config.cooldowns())
        .await
    {
        Ok(intent) => intent,
        Err(CreateRefreshError::InProgress) => {
            return Err(ApiError::client(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorType::InvalidRequest,
                "refresh_intent_in_progress",
                format!(
                    "There is already a refresh intent in progress for {}.",
                    link.id
                ),
            ))
        }
        Err(CreateRefreshError::Cooldown(allowed)) => {
            let wait_secs = ((allowed.millis() - now.millis()) + 999).max(1000) / 1000;
            return Err(ApiError::client(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorType::InvalidRequest,
                "rate_limit_exceeded",
                format!(
                    "This Link was recently refreshed. You have to wait until {} to refresh it again.",
                    allowed.to_wire()
                ),
            )
            .with_extra("next_refresh_at", serde_json::json!(allowed.to_wire()))
            .with_extra("retry_after_seconds", serde_json::json!(wait_secs)));
        }
        Err(CreateRefreshError::Store(e)) => return Err(ApiError::Internal(e)),
    };
    ctx.wake.notify_one();
    Ok(CreatedIntent {
        intent,
        widget_token,
    })
}
