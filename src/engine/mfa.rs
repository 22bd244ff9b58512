//! Answering a parked refresh's second factor, from the widget (public key + widget token) or
//! from the API (secret key + link token). The answer goes to the bank at once, so the holder
//! learns immediately whether the code was right; the refresh then resumes on a worker.

use super::politeness::{self, Closed};
use super::EngineContext;
use crate::connectors::{ConnectorError, MfaAnswer, MfaChallenge};
use crate::domain::*;

/// Why a second-factor answer was not taken.
#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    /// The intent has already ended.
    #[error("the refresh intent has already ended")]
    Finished,
    /// The intent has no second-factor state (it vanished).
    #[error("refresh intent {0} has no second-factor state")]
    NotFound(RefreshIntentId),
    /// The second factor was already given.
    #[error("the second factor was already given")]
    AlreadyCompleted,
    /// The challenge expired, or the holder used up their attempts.
    #[error("the challenge expired or has no attempts left")]
    Exhausted,
    /// The bank has not asked yet (the worker is still logging in).
    #[error("the bank has not asked for the second factor yet")]
    NotRequestedYet,
    /// The bank took the answer, but the challenge expired before it was stored.
    #[error("the challenge expired before the answer was stored")]
    ExpiredMeanwhile,
    /// The bank says the challenge expired.
    #[error("the bank says the challenge expired")]
    BankExpired,
    /// The code is wrong.
    #[error("the code is wrong; {attempts_left} attempt(s) left")]
    WrongCode {
        /// Answers the holder may still give.
        attempts_left: i64,
    },
    /// The bank could not check the answer (down, or an unexpected answer).
    #[error("the bank could not check the second factor")]
    BankUnavailable,
    /// The institution takes no call now (its breaker is open, or every session slot stayed
    /// taken); the answer was not given to the bank and may be sent again.
    #[error("the institution takes no call now")]
    InstitutionClosed(Closed),
    /// Our failure.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Gives `answer` to the bank for `intent`'s pending challenge.
#[tracing::instrument(skip_all, fields(intent_id = %intent.id))]
pub async fn answer(
    ctx: &EngineContext,
    intent: &RefreshIntent,
    answer: MfaAnswer,
) -> Result<(), MfaError> {
    if intent.status.is_final() {
        return Err(MfaError::Finished);
    }
    let state = ctx
        .store
        .mfa_state(&intent.id)
        .await?
        .ok_or_else(|| MfaError::NotFound(intent.id.clone()))?;
    if state.completed {
        return Err(MfaError::AlreadyCompleted);
    }
    let max = i64::from(ctx.config.mfa_max_attempts);
    let expired = state.expires_at.is_some_and(|at| Timestamp::now() >= at);
    if expired || state.attempts >= max {
        return Err(MfaError::Exhausted);
    }
    let Some(sealed) = state.challenge else {
        return Err(MfaError::NotRequestedYet);
    };
    let plain = ctx
        .keys
        .unseal(intent.id.as_str(), &sealed)
        .map_err(anyhow::Error::from)?;
    let challenge: MfaChallenge = serde_json::from_slice(&plain).map_err(anyhow::Error::from)?;
    let link = ctx
        .store
        .link_including_deleted(&intent.link_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("intent without link"))?;
    let Some(connector) = ctx.registry.get(&link.institution.id) else {
        // A configured connector not loaded yet (down when the server started) may serve it,
        // or no configured connector serves it any more: either way nothing can check the
        // answer now; the refresh itself ends as its runner decides.
        tracing::warn!(institution = %link.institution.id, "no loaded connector serves this bank");
        return Err(MfaError::BankUnavailable);
    };
    let connector = crate::metrics::connector::instrument(connector, ctx.store.metrics());
    let answered = politeness::at_the_bank(
        &ctx.store,
        &ctx.config,
        &link.institution.id,
        connector.answer_mfa(&challenge, &answer),
        politeness::health_of,
        || ConnectorError::Unavailable,
    )
    .await?
    .map_err(MfaError::InstitutionClosed)?;
    match answered {
        Ok(session) => {
            let sealed = ctx.keys.seal(
                intent.id.as_str(),
                &serde_json::to_vec(&session).map_err(anyhow::Error::from)?,
            );
            if !ctx.store.complete_mfa(&intent.id, &sealed).await? {
                return Err(MfaError::ExpiredMeanwhile);
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
            Err(MfaError::WrongCode {
                attempts_left: left,
            })
        }
        Err(ConnectorError::MfaExpired) => {
            ctx.store.wake_parked_job(&intent.id).await?;
            Err(MfaError::BankExpired)
        }
        Err(other) => {
            tracing::warn!(error = %other, "bank refused the second factor");
            Err(MfaError::BankUnavailable)
        }
    }
}
