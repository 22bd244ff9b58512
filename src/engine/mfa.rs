//! Answering a parked refresh's second factor, from the widget (public key + widget token) or
//! from the API (secret key + link token). The answer goes to the bank at once, so the holder
//! learns immediately whether the code was right; the refresh then resumes on a worker.

use axum::http::StatusCode;

use super::EngineContext;
use crate::connectors::{ConnectorError, MfaAnswer, MfaChallenge};
use crate::domain::*;
use crate::error::{ApiError, ErrorType};

fn unprocessable(code: &'static str, message: &str) -> ApiError {
    ApiError::client(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorType::InvalidRequest,
        code,
        message,
    )
}

/// Gives `answer` to the bank for `intent`'s pending challenge.
#[tracing::instrument(skip_all, fields(intent_id = %intent.id))]
pub async fn answer(
    ctx: &EngineContext,
    intent: &RefreshIntent,
    answer: MfaAnswer,
) -> Result<(), ApiError> {
    if intent.status.is_final() {
        return Err(unprocessable(
            "refresh_intent_finished",
            "This refresh intent has already ended.",
        ));
    }
    let state = ctx
        .store
        .mfa_state(&intent.id)
        .await?
        .ok_or_else(|| ApiError::not_found("refresh_intent", intent.id.as_str()))?;
    if state.completed {
        return Err(unprocessable(
            "mfa_already_completed",
            "The second factor was already given.",
        ));
    }
    let max = i64::from(ctx.config.mfa_max_attempts);
    let expired = state.expires_at.is_some_and(|at| Timestamp::now() >= at);
    if expired || state.attempts >= max {
        return Err(unprocessable(
            "mfa_expired",
            "The second-factor challenge expired or has no attempts left; create a new refresh intent.",
        ));
    }
    let Some(sealed) = state.challenge else {
        return Err(ApiError::client(
            StatusCode::CONFLICT,
            ErrorType::InvalidRequest,
            "mfa_not_requested_yet",
            "The bank has not asked for the second factor yet; retry in a moment.",
        ));
    };
    let plain = ctx
        .keys
        .unseal(intent.id.as_str(), &sealed)
        .map_err(|e| ApiError::Internal(e.into()))?;
    let challenge: MfaChallenge =
        serde_json::from_slice(&plain).map_err(|e| ApiError::Internal(e.into()))?;
    let link = ctx
        .store
        .link_including_deleted(&intent.link_id)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("intent without link")))?;
    let connector = ctx
        .registry
        .get(&link.institution.id)
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("institution vanished")))?;
    match connector.answer_mfa(&challenge, &answer).await {
        Ok(session) => {
            let sealed = ctx.keys.seal(
                intent.id.as_str(),
                &serde_json::to_vec(&session).map_err(|e| ApiError::Internal(e.into()))?,
            );
            if !ctx.store.complete_mfa(&intent.id, &sealed).await? {
                return Err(unprocessable(
                    "mfa_expired",
                    "The second-factor challenge expired.",
                ));
            }
            ctx.wake.notify_one();
            Ok(())
        }
        Err(ConnectorError::WrongMfaCode { .. }) => {
            let attempts = ctx.store.record_wrong_mfa(&intent.id).await?;
            let left = (max - attempts).max(0);
            if left == 0 {
                // Let a worker end the intent now rather than at the challenge's expiry.
                ctx.store.wake_parked_job(&intent.id).await?;
                ctx.wake.notify_one();
            }
            Err(ApiError::bad_request(
                "invalid_mfa_code",
                format!("The second-factor code is wrong; {left} attempt(s) left."),
            )
            .with_param("code")
            .with_extra("attempts_left", serde_json::json!(left)))
        }
        Err(ConnectorError::MfaExpired) => {
            ctx.store.wake_parked_job(&intent.id).await?;
            Err(unprocessable(
                "mfa_expired",
                "The bank says the challenge expired.",
            ))
        }
        Err(other) => {
            tracing::warn!(error = %other, "bank refused the second factor");
            Err(ApiError::client(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorType::Institution,
                "unavailable_institution",
                "The bank could not check the second factor; try again.",
            ))
        }
    }
}
