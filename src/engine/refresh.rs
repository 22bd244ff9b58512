//! Running one claimed refresh job: log in (or resume after MFA), fetch, and record the outcome
//! in one fenced transaction. A heartbeat keeps the lease while the bank is slow; if the lease
//! is lost the run stops and writes nothing.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tracing::Instrument;

use super::convert::{account_data, bank_holder_type, mfa_method, movements, public_error};
use super::linking::SealedCredentials;
use super::politeness::BankHealth;
use super::EngineContext;
use crate::connectors::{
    BankSession, Connector, ConnectorError, Credentials, DateWindow, ErrorClass, FetchContext,
    LoginOutcome, MfaChallenge,
};
use crate::domain::*;
use crate::domain::{AccountFetch, FetchedMovements, RefreshOutcome};
use crate::store::{ClaimedJob, RefreshWork};

/// What a run ended with (for logs and tests).
#[derive(Debug, PartialEq, Eq)]
pub enum RunResult {
    /// The intent reached this final status.
    Finished(IntentStatus),
    /// The intent waits for a second factor.
    Parked,
    /// Another worker holds the job now; nothing was written.
    LeaseLost,
    /// The bank was not called: its breaker is open or its sessions are all taken. The job
    /// waits and runs again (the intent stays `created`).
    Waiting,
}

/// Runs one claimed job to its next resting point, in the `run_job` span, which continues the
/// trace the intent was created in (so it is read first: an exported span's parent is set
/// before it starts).
pub async fn run_job(ctx: &Arc<EngineContext>, job: ClaimedJob) -> anyhow::Result<RunResult> {
    let trace = crate::trace_context::resume(&ctx.store, &job.intent_id).await;
    let span = tracing::info_span!(
        "run_job",
        intent_id = %job.intent_id,
        attempt = job.attempts,
        trace_id = tracing::field::Empty,
    );
    let span = crate::trace_context::resumed(span, trace.as_ref());
    run(ctx, job, trace).instrument(span).await
}

async fn run(
    ctx: &Arc<EngineContext>,
    job: ClaimedJob,
    trace: Option<crate::trace_context::TraceParent>,
) -> anyhow::Result<RunResult> {
    let work = ctx.store.refresh_work(&job.intent_id).await?;
    let lease = ctx.lease_millis();
    // Keeps the lease from the claim until the outcome is recorded (also while the recording
    // waits for the database); ends only when the lease was taken over.
    let heartbeat = async {
        let period = Duration::from_millis(u64::try_from(lease / 3).unwrap_or(1000).max(50));
        loop {
            tokio::time::sleep(period).await;
            match ctx.store.heartbeat(&job, lease).await {
                Ok(true) => {}
                Ok(false) => return,
                // A transient database error: the lease may still be valid; keep trying.
                Err(e) => tracing::warn!(error = format!("{e:#}"), "heartbeat failed"),
            }
        }
    };
    tokio::pin!(heartbeat);
    let until_deadline = Duration::from_millis(
        u64::try_from(work.deadline.millis() - Timestamp::now().millis()).unwrap_or(0),
    );
    let step = tokio::time::timeout(
        until_deadline,
        crate::trace_context::scope(trace, step(ctx, &job, &work)),
    );
    let outcome = tokio::select! {
        result = step => match result {
            Ok(result) => result?,
            Err(_) => Step::Finish(failure(PublicError::Retryable, "deadline_exceeded", None)),
        },
        () = &mut heartbeat => return Ok(RunResult::LeaseLost),
    };
    match outcome {
        Step::Wait(until) => {
            // Never past the deadline: a job claimed after it ends as `deadline_exceeded`.
            let until = until.min(work.deadline);
            Ok(if Box::pin(ctx.store.postpone_job(&job, until)).await? {
                RunResult::Waiting
            } else {
                RunResult::LeaseLost
            })
        }
        Step::Parked => Ok(RunResult::Parked),
        Step::LeaseLost => Ok(RunResult::LeaseLost),
        Step::Finish(outcome) => {
            let (status, public_error) = (outcome.status, outcome.public_error);
            // The events are made inside the recording transaction, from what it committed.
            let keys = ctx.keys.clone();
            let make_events = Box::new(move |recorded: &crate::domain::RecordedRefresh| {
                super::events::refresh_events(&keys, recorded)
            });
            // Boxed, like `park` below: a refresh waiting on the bank then holds only what
            // waiting needs (S3 in BENCHMARKS.md: 10,000 such futures at once).
            let mut recording =
                Box::pin(
                    ctx.store
                        .finish_refresh(&job, &work.link.id, outcome, make_events),
                );
            let recorded = tokio::select! {
                recorded = &mut recording => recorded,
                // Taken over while waiting: the fenced recording finds out and writes nothing.
                () = &mut heartbeat => recording.await,
            }?;
            ctx.webhook_wake.notify_one();
            match recorded {
                Some(counts) => {
                    ctx.store
                        .metrics()
                        .refresh_finished(&work, status, public_error);
                    tracing::info!(
                        status = status.as_str(),
                        new = counts.new,
                        modified = counts.modified,
                        removed = counts.removed,
                        "refresh finished"
                    );
                    Ok(RunResult::Finished(status))
                }
                None => Ok(RunResult::LeaseLost),
            }
        }
    }
}

/// Where one run of the step ends.
enum Step {
    Finish(RefreshOutcome),
    Parked,
    LeaseLost,
    /// Not let through to the bank (see `politeness`) until then.
    Wait(Timestamp),
}

/// The `failure_reason` of a scheduled refresh whose bank asked for a second factor.
pub const UNATTENDED_MFA: &str = "mfa_required_unattended";

fn failure(
    error: PublicError,
    reason: &str,
    accounts: Option<Vec<AccountFetch>>,
) -> RefreshOutcome {
    RefreshOutcome {
        status: error.status(),
        public_error: Some(error),
        failure_reason: Some(reason.to_owned()),
        accounts,
        credential_status: (error.status() == IntentStatus::Rejected)
            .then_some(CredentialStatus::LoginRequired),
        finished_at: Timestamp::now(),
        next_refresh: None,
    }
}

fn bank_failure(error: &ConnectorError) -> RefreshOutcome {
    let reason = match error {
        ConnectorError::InvalidCredentials => "invalid_credentials",
        ConnectorError::CredentialsLocked => "credentials_locked",
        ConnectorError::Unavailable => "institution_unavailable",
        ConnectorError::SupportRequired => "support_required",
        ConnectorError::MfaExpired => "mfa_expired",
        ConnectorError::WrongMfaCode { .. } => "mfa_wrong_code",
        ConnectorError::SessionExpired { .. } => "bank_session_expired",
        ConnectorError::PasswordExpired => "password_expired",
        ConnectorError::ActionNeeded => "action_needed",
        ConnectorError::RateLimited => "institution_rate_limited",
        ConnectorError::AccountFailed { .. } => "institution_error",
        ConnectorError::Other(_) => "connector_error",
        ConnectorError::Classified { class, .. } => match class {
            ErrorClass::Person => "holder_action_required",
            ErrorClass::Transient => "institution_unavailable",
            ErrorClass::Connector => "connector_error",
        },
    };
    failure(public_error(error), reason, None)
}

async fn step(
    ctx: &Arc<EngineContext>,
    job: &ClaimedJob,
    work: &RefreshWork,
) -> anyhow::Result<Step> {
    let intent = &work.intent;
    // Checks that end the intent without asking the bank.
    // A stored, unanswered challenge means the job was parked: a worker only gets it back when
    // the challenge expired or the holder used up their attempts.
    if work.mfa_challenge.is_some() {
        let reason = if work.mfa_attempts >= i64::from(ctx.config.mfa_max_attempts) {
            "mfa_attempts_exceeded"
        } else {
            "mfa_expired"
        };
        return Ok(Step::Finish(failure(PublicError::Retryable, reason, None)));
    }
    if job.attempts > i64::from(ctx.config.job_max_attempts) {
        return Ok(Step::Finish(failure(
            PublicError::Retryable,
            "too_many_attempts",
            None,
        )));
    }
    if work.link_deleted || !work.link.active {
        return Ok(Step::Finish(
            RefreshOutcome::link_inactive(Timestamp::now()),
        ));
    }
    if let Some(forced) = intent.forced_result {
        return Ok(Step::Finish(forced_outcome(ctx, work, forced)));
    }
    let Some(connector) = ctx.registry.get(&work.link.institution.id) else {
        // A configured connector not loaded yet may serve it: that passes, a bank no
        // connector serves does not.
        let (error, reason) = if ctx.registry.has_pending() {
            (PublicError::Retryable, "connector_unavailable")
        } else {
            (PublicError::SupportRequired, "unknown_institution")
        };
        return Ok(Step::Finish(failure(error, reason, None)));
    };
    let connector = crate::metrics::connector::instrument(connector, ctx.store.metrics());
    let institution = work.link.institution.id.as_str();
    // The gate's and the postponement's futures are boxed, like `park` and the recording: a
    // refresh waiting on the bank then holds only what waiting needs.
    let pass = match Box::pin(super::politeness::enter(ctx, job, institution)).await? {
        Ok(pass) => pass,
        Err(until) => return Ok(Step::Wait(until)),
    };
    let step = with_bank(ctx, job, work, connector.as_ref()).await;
    let health = match &step {
        Ok(Step::Finish(outcome))
            if outcome.failure_reason.as_deref() == Some("institution_unavailable") =>
        {
            BankHealth::Unavailable
        }
        Ok(Step::Finish(_) | Step::Parked) => BankHealth::Answered,
        _ => BankHealth::Unknown,
    };
    Box::pin(pass.leave(&ctx.store, &ctx.config, health)).await;
    step
}

/// The part of a run that calls the bank: log in (or resume), list accounts, fetch movements.
async fn with_bank(
    ctx: &Arc<EngineContext>,
    job: &ClaimedJob,
    work: &RefreshWork,
    connector: &dyn Connector,
) -> anyhow::Result<Step> {
    let intent = &work.intent;
    // A stored session: the holder answered a second factor, or the login that created the
    // link handed its session to the link's first history.
    let stored = match &work.mfa_session {
        Some(sealed) => {
            let plain = ctx.keys.unseal(intent.id.as_str(), sealed)?;
            Some(serde_json::from_slice::<BankSession>(&plain).context("stored bank session")?)
        }
        None => None,
    };
    let from_creation = stored.is_some() && work.refresh_number == 0;
    let mut session = match stored {
        Some(session) => session,
        None => match log_in(ctx, job, work, connector).await? {
            Ok(session) => session,
            Err(step) => return Ok(step),
        },
    };

    let fetch_ctx = FetchContext {
        today: work.fetch_day,
        refresh_number: work.refresh_number,
    };
    let bank_accounts = match connector.list_accounts(&mut session, &fetch_ctx).await {
        Ok(accounts) => accounts,
        // The creation's session ended before a worker got to the first history (a long
        // queue, or `refresco links create` with no server running): log in again.
        Err(ConnectorError::SessionExpired { .. }) if from_creation => {
            session = match log_in(ctx, job, work, connector).await? {
                Ok(session) => session,
                Err(step) => return Ok(step),
            };
            match connector.list_accounts(&mut session, &fetch_ctx).await {
                Ok(accounts) => accounts,
                Err(e) => return Ok(Step::Finish(bank_failure(&e))),
            }
        }
        Err(e) => return Ok(Step::Finish(bank_failure(&e))),
    };
    let window = DateWindow::last_days(work.fetch_day, intent.refresh_type.window_days());
    let mut fetches = Vec::with_capacity(bank_accounts.len());
    let mut worst: Option<ConnectorError> = None;
    for account in &bank_accounts {
        let movements = match connector
            .fetch_movements(&mut session, account, window, &fetch_ctx)
            .await
            .and_then(|list| movements(account, &list))
        {
            Ok(movements) => {
                // Removals are judged only from the oldest day the bank answered for: a
                // bank's history slides forward, and older movements simply age out.
                let since = movements
                    .iter()
                    .map(|m| m.post_date)
                    .min()
                    .unwrap_or(window.until);
                Ok(FetchedMovements {
                    since: since.max(window.since),
                    until: window.until,
                    movements,
                })
            }
            Err(e) => {
                let error = public_error(&e);
                if worst.is_none() || e.is_rejection() {
                    worst = Some(e);
                }
                Err(error)
            }
        };
        fetches.push(AccountFetch {
            account: account_data(account),
            movements,
        });
    }
    let outcome = match worst {
        None => RefreshOutcome {
            status: IntentStatus::Succeeded,
            public_error: None,
            failure_reason: None,
            accounts: Some(fetches),
            credential_status: Some(CredentialStatus::Active),
            finished_at: Timestamp::now(),
            next_refresh: Some(
                ctx.config
                    .cooldowns()
                    .next_allowed(intent.refresh_type, Timestamp::now()),
            ),
        },
        Some(e) => {
            let mut outcome = bank_failure(&e);
            outcome.accounts = Some(fetches);
            outcome
        }
    };
    Ok(Step::Finish(outcome))
}

/// Logs in with the link's stored credentials: the session, or where the step ends (parked
/// for a second factor, or the bank's refusal).
async fn log_in(
    ctx: &Arc<EngineContext>,
    job: &ClaimedJob,
    work: &RefreshWork,
    connector: &dyn Connector,
) -> anyhow::Result<Result<BankSession, Step>> {
    let plain = ctx
        .keys
        .unseal(work.link.id.as_str(), &work.sealed_credentials)?;
    let sealed: SealedCredentials = serde_json::from_slice(&plain).context("credentials")?;
    let credentials = Credentials {
        username: sealed.username,
        password: sealed.password,
        holder_type: bank_holder_type(work.link.holder_type),
    };
    Ok(match connector.login(&credentials).await {
        Ok(LoginOutcome::LoggedIn(session)) => Ok(session),
        Ok(LoginOutcome::MfaRequired(challenge)) if work.scheduled => {
            // Nobody is there to answer: the refresh ends now rather than wait for its
            // challenge to expire, and the link's on-demand refreshes ask for the second
            // factor from now on (docs/politeness.md, "Unattended refreshes").
            // Boxed, as `park` is: a refresh waiting at the bank holds only what waiting needs.
            Box::pin(
                ctx.store
                    .mark_login_mfa(&work.link.id, mfa_method(challenge.kind)),
            )
            .await?;
            Err(Step::Finish(failure(
                PublicError::Retryable,
                UNATTENDED_MFA,
                None,
            )))
        }
        Ok(LoginOutcome::MfaRequired(challenge)) => {
            Err(Box::pin(park(ctx, job, work, &challenge)).await?)
        }
        Err(e) => Err(Step::Finish(bank_failure(&e))),
    })
}

/// Test mode's `result_status`: the outcome without contacting the bank. Forced outcomes
/// never change the link's credentials (see docs/refresh-intents.md).
fn forced_outcome(ctx: &EngineContext, work: &RefreshWork, forced: IntentStatus) -> RefreshOutcome {
    let mut outcome = match forced {
        IntentStatus::Failed => failure(PublicError::Retryable, "forced_by_result_status", None),
        IntentStatus::Rejected => failure(
            PublicError::InvalidCredentials,
            "forced_by_result_status",
            None,
        ),
        _ => RefreshOutcome::succeeded_without_fetch(Some(
            ctx.config
                .cooldowns()
                .next_allowed(work.intent.refresh_type, Timestamp::now()),
        )),
    };
    outcome.credential_status = None;
    outcome
}

async fn park(
    ctx: &Arc<EngineContext>,
    job: &ClaimedJob,
    work: &RefreshWork,
    challenge: &MfaChallenge,
) -> anyhow::Result<Step> {
    let sealed = ctx
        .keys
        .seal(work.intent.id.as_str(), &serde_json::to_vec(challenge)?);
    let expires_at = work
        .intent
        .mfa_expires_at
        .unwrap_or_else(|| Timestamp::now().plus_millis(ctx.mfa_timeout_millis()));
    let parked = ctx
        .store
        .park_for_mfa(
            job,
            mfa_method(challenge.kind),
            challenge.hint.as_deref(),
            &sealed,
            expires_at,
        )
        .await?;
    Ok(if parked {
        Step::Parked
    } else {
        Step::LeaseLost
    })
}
