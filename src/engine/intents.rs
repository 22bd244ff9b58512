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

/// Creates an intent for the link `token` opens (of the principal's organization and mode), or
/// says which rule forbids it. The token and the link are checked by the create itself, in
/// one write with no read before it (see `store::refresh`), so the errors come from there.
#[tracing::instrument(skip_all, fields(link_id = %token.link_id()))]
pub async fn create(
    ctx: &EngineContext,
    principal: &Principal,
    token: &LinkToken,
    refresh_type: RefreshType,
    forced_result: Option<IntentStatus>,
) -> Result<CreatedIntent, ApiError> {
    let id = RefreshIntentId::generate();
    // Made before we know whether the link's bank asks for a second factor (the insert keeps
    // it only then): a few microseconds, against a read of the link before every create.
    let widget_token = WidgetToken::generate(&id);
    let now = Timestamp::now();
    let new = NewRefreshIntent {
        id: id.clone(),
        organization_id: principal.organization_id.clone(),
        mode: principal.mode,
        link_id: token.link_id().clone(),
        link_token_hash: ctx.keys.hash_token(token.expose()),
        refresh_type,
        forced_result,
        widget_token_hash: ctx.keys.hash_token(widget_token.expose()),
        widget_token_sealed: ctx.keys.seal(id.as_str(), widget_token.expose().as_bytes()),
        now,
        deadline: now.plus_millis(ctx.refresh_timeout_millis()),
    };
    let intent = match ctx
        .store
        .create_refresh_intent(&new, ctx.config.cooldowns())
        .await
    {
        Ok(intent) => intent,
        Err(CreateRefreshError::UnknownLink) => return Err(ApiError::invalid_link_token()),
        Err(CreateRefreshError::Inactive) => {
            return Err(ApiError::bad_request(
                "invalid_on_demand_link",
                "This link is inactive; activate it (PATCH active=true) before refreshing it.",
            )
            .with_param("link_token"))
        }
        Err(CreateRefreshError::LoginRequired) => {
            return Err(ApiError::client(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorType::Link,
                "rejected_refresh_intent",
                "The institution indicated that the credentials are invalid. You need to reconnect the account.",
            ))
        }
        Err(CreateRefreshError::InProgress) => {
            return Err(ApiError::client(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorType::InvalidRequest,
                "refresh_intent_in_progress",
                format!(
                    "There is already a refresh intent in progress for {}.",
                    token.link_id()
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
    // The insert kept the widget token only if the bank will ask for a second factor.
    let widget_token = intent.widget_token_sealed.is_some().then_some(widget_token);
    Ok(CreatedIntent {
        intent,
        widget_token,
    })
}
