//! The widget's steps on an open link intent: log in with the person's credentials, park the
//! bank's second factor sealed in the intent's row, take the person's answer, and create the
//! link together with the intent's success (see [`super::link_intents`] for the whole way).

use serde::{Deserialize, Serialize};

use super::convert::mfa_method;
use super::link_intents::{ensure_open, internal, open, LinkIntentError};
use super::linking::{self, LinkingError, NewLinkRequest};
use super::politeness::{self, BankHealth};
use super::{widget_reconnect, EngineContext};
use crate::config::Secret;
use crate::connectors::{
    BankSession, Connector, ConnectorError, LoginOutcome, MfaAnswer, MfaChallenge,
};
use crate::domain::*;
use crate::store::{LinkIntentSecrets, ParkedLogin};

/// Logins the bank may refuse (or interrupt with a second factor) before the intent fails and
/// the person must start again: a stolen widget token cannot be used to guess passwords.
pub const MAX_LOGINS: i64 = 5;

/// Where a widget step left the intent: waiting for a second factor (see its `pending_mfa`), or
/// succeeded with a new or reconnected link.
pub struct WidgetOutcome {
    /// The intent as it is now.
    pub intent: LinkIntent,
    /// The link, when this step created it.
    pub connected: Option<ConnectedLink>,
}

/// A link the widget just created or reconnected.
pub struct ConnectedLink {
    /// The link.
    pub link: Link,
    /// Its accounts.
    pub accounts: Vec<Account>,
    /// For the widget's `onSuccess`.
    pub exchange_token: String,
}

/// The credentials and the bank's challenge while the person finds their code (sealed at
/// rest, bound to the intent id).
#[derive(Serialize, Deserialize)]
struct PendingLogin {
    username: String,
    password: String,
    challenge: MfaChallenge,
}

/// The widget's login with the person's credentials at `institution_id` (both the link's, and
/// optional, when the intent reconnects a link).
#[tracing::instrument(skip_all, fields(institution = ?institution_id))]
pub async fn submit_credentials(
    ctx: &EngineContext,
    principal: &Principal,
    token: &str,
    institution_id: Option<&str>,
    username: Option<&str>,
    password: Secret,
) -> Result<WidgetOutcome, LinkIntentError> {
    let step = Step::begin(ctx, principal, token).await?;
    let intent = &step.intent;
    let target = widget_reconnect::login_target(ctx, intent, institution_id, username).await?;
    let (institution_id, username) = (target.institution_id.as_str(), target.username.as_str());
    let connector = linking::connector_for(&ctx.registry, institution_id, intent.mode)?;
    if !connector
        .institution()
        .country
        .eq_ignore_ascii_case(&intent.country)
    {
        return Err(LinkIntentError::InstitutionNotInCountry);
    }
    let request = NewLinkRequest {
        institution_id: institution_id.to_owned(),
        username: username.to_owned(),
        password,
        holder_type: intent.holder_type,
        mfa_code: None,
    };
    at_the_bank(ctx, institution_id, async {
        match connector.login(&request.credentials()).await {
            Ok(LoginOutcome::LoggedIn(session)) => {
                step.connect(connector.as_ref(), &request, session, None)
                    .await
            }
            Ok(LoginOutcome::MfaRequired(challenge)) => {
                park(ctx, intent, institution_id, &request, challenge).await
            }
            Err(error) => Err(refused(ctx, intent, error).await?),
        }
    })
    .await
}

/// Runs a widget step's bank calls under a session slot of `institution`, as link creation
/// through the API does (see [`politeness::at_the_bank`]).
async fn at_the_bank(
    ctx: &EngineContext,
    institution: &str,
    work: impl std::future::Future<Output = Result<WidgetOutcome, LinkIntentError>>,
) -> Result<WidgetOutcome, LinkIntentError> {
    politeness::at_the_bank(
        &ctx.store,
        &ctx.config,
        institution,
        work,
        |result| match result {
            Err(LinkIntentError::Linking(LinkingError::Bank(ConnectorError::Unavailable))) => {
                BankHealth::Unavailable
            }
            Ok(_)
            | Err(
                LinkIntentError::LoginRefused { .. }
                | LinkIntentError::WrongMfaCode { .. }
                | LinkIntentError::MfaExpired
                | LinkIntentError::Linking(LinkingError::Bank(_)),
            ) => BankHealth::Answered,
            Err(_) => BankHealth::Unknown,
        },
        || LinkingError::Bank(ConnectorError::Unavailable).into(),
    )
    .await?
    .map_err(|closed| LinkingError::InstitutionClosed(closed).into())
    .and_then(|result| result)
}

/// The error for a login the bank refused; refusals of the credentials count towards
/// [`MAX_LOGINS`], a bank that is down does not.
async fn refused(
    ctx: &EngineContext,
    intent: &LinkIntent,
    error: ConnectorError,
) -> Result<LinkIntentError, LinkIntentError> {
    if !error.is_rejection() {
        return Ok(LinkingError::Bank(error).into());
    }
    let Some(attempts) = ctx
        .store
        .record_refused_login(&intent.id, MAX_LOGINS)
        .await?
    else {
        return Ok(reloaded_error(ctx, intent).await);
    };
    let left = (MAX_LOGINS - attempts).max(0);
    Ok(LinkIntentError::LoginRefused {
        error,
        attempts_left: left,
    })
}

async fn park(
    ctx: &EngineContext,
    intent: &LinkIntent,
    institution_id: &str,
    request: &NewLinkRequest,
    challenge: MfaChallenge,
) -> Result<WidgetOutcome, LinkIntentError> {
    let method = mfa_method(challenge.kind);
    let hint = challenge.hint.clone();
    let pending = PendingLogin {
        username: request.username.clone(),
        password: request.password.expose().to_owned(),
        challenge,
    };
    let sealed = ctx.keys.seal(
        intent.id.as_str(),
        &serde_json::to_vec(&pending).map_err(internal)?,
    );
    let parked = ParkedLogin {
        institution_id,
        method,
        hint: hint.as_deref(),
        sealed: &sealed,
        expires_at: Timestamp::now().plus_millis(ctx.mfa_timeout_millis()),
    };
    if !ctx.store.park_link_login(&intent.id, &parked).await? {
        return Err(reloaded_error(ctx, intent).await);
    }
    let intent = ctx
        .store
        .link_intent(&intent.id)
        .await?
        .ok_or(LinkIntentError::InvalidWidgetToken)?;
    Ok(WidgetOutcome {
        intent,
        connected: None,
    })
}

/// Why a conditional update found the intent no longer open (another request finished it, or
/// it expired meanwhile).
async fn reloaded_error(ctx: &EngineContext, intent: &LinkIntent) -> LinkIntentError {
    match ctx.store.link_intent(&intent.id).await {
        Ok(Some(now)) => ensure_open(&now).err().unwrap_or_else(|| {
            internal(anyhow::anyhow!("link intent update lost without a reason"))
        }),
        Ok(None) => LinkIntentError::InvalidWidgetToken,
        Err(e) => internal(e),
    }
}

/// The widget's answer to the second factor the bank asked for at login.
#[tracing::instrument(skip_all)]
pub async fn answer_mfa(
    ctx: &EngineContext,
    principal: &Principal,
    token: &str,
    answer: MfaAnswer,
) -> Result<WidgetOutcome, LinkIntentError> {
    let step = Step::begin(ctx, principal, token).await?;
    let intent = &step.intent;
    let (Some(pending), Some(sealed)) = (&intent.pending_mfa, &step.secrets.pending_login) else {
        return Err(LinkIntentError::MfaNotRequested);
    };
    if Timestamp::now() >= pending.expires_at {
        ctx.store.drop_link_mfa(&intent.id).await?;
        return Err(LinkIntentError::MfaExpired);
    }
    let plain = ctx
        .keys
        .unseal(intent.id.as_str(), sealed)
        .map_err(internal)?;
    let login: PendingLogin = serde_json::from_slice(&plain).map_err(internal)?;
    let connector = linking::connector_for(&ctx.registry, &pending.institution_id, intent.mode)?;
    at_the_bank(ctx, &pending.institution_id, async {
        match connector.answer_mfa(&login.challenge, &answer).await {
            Ok(session) => {
                let request = NewLinkRequest {
                    institution_id: pending.institution_id.clone(),
                    username: login.username,
                    password: Secret::new(login.password),
                    holder_type: intent.holder_type,
                    mfa_code: None,
                };
                let method = Some(mfa_method(login.challenge.kind));
                step.connect(connector.as_ref(), &request, session, method)
                    .await
            }
            Err(ConnectorError::WrongMfaCode { .. }) => {
                let max = i64::from(ctx.config.mfa_max_attempts);
                let wrong = ctx
                    .store
                    .record_wrong_link_mfa(&intent.id, max)
                    .await?
                    .unwrap_or(max);
                Err(LinkIntentError::WrongMfaCode {
                    attempts_left: (max - wrong).max(0),
                })
            }
            Err(ConnectorError::MfaExpired) => {
                ctx.store.drop_link_mfa(&intent.id).await?;
                Err(LinkIntentError::MfaExpired)
            }
            Err(other) => Err(LinkingError::Bank(other).into()),
        }
    })
    .await
}

/// A widget step on an open intent: who asks, and the intent their token opened.
struct Step<'a> {
    ctx: &'a EngineContext,
    principal: &'a Principal,
    intent: LinkIntent,
    secrets: LinkIntentSecrets,
}

impl<'a> Step<'a> {
    /// Opens the intent for the step, refusing one that is over.
    async fn begin(
        ctx: &'a EngineContext,
        principal: &'a Principal,
        token: &str,
    ) -> Result<Step<'a>, LinkIntentError> {
        let (intent, secrets) = open(ctx, principal, token).await?;
        ensure_open(&intent)?;
        Ok(Step {
            ctx,
            principal,
            intent,
            secrets,
        })
    }

    /// Fetches the bank's data through a logged-in session and stores the link together with
    /// the intent's success.
    async fn connect(
        &self,
        connector: &dyn Connector,
        request: &NewLinkRequest,
        session: BankSession,
        login_mfa: Option<MfaMethod>,
    ) -> Result<WidgetOutcome, LinkIntentError> {
        let (ctx, intent) = (self.ctx, &self.intent);
        if let Some(link_id) = &intent.reconnect_link_id {
            // Reconnecting: the login proved the new credentials; the link keeps its data.
            let stored = widget_reconnect::store(ctx, intent, link_id, request, login_mfa).await?;
            let Some((link, accounts)) = stored else {
                return Err(reloaded_error(ctx, intent).await);
            };
            return self.succeeded(link, accounts).await;
        }
        let linker = ctx.linker();
        let (new, token) = linking::prepare_link(
            &linker,
            self.principal,
            connector,
            request,
            session,
            login_mfa,
        )
        .await?;
        let sealed_token = ctx.keys.seal(intent.id.as_str(), token.expose().as_bytes());
        let Some((link, accounts)) = ctx
            .store
            .create_link_for_intent(&intent.id, &new, &sealed_token)
            .await?
        else {
            return Err(reloaded_error(ctx, intent).await);
        };
        // The link's first history is ready to run, and its `link.created` to be delivered.
        ctx.wake.notify_one();
        ctx.webhook_wake.notify_one();
        tracing::info!(link_intent_id = %intent.id, link_id = %link.id, "link created through the widget");
        self.succeeded(link, accounts).await
    }

    /// The intent as it is after its success, with the link and the exchange token for the
    /// widget's `onSuccess`.
    async fn succeeded(
        &self,
        link: Link,
        accounts: Vec<Account>,
    ) -> Result<WidgetOutcome, LinkIntentError> {
        let (ctx, intent) = (self.ctx, &self.intent);
        let exchange_token = ctx
            .keys
            .unseal(intent.id.as_str(), &self.secrets.exchange_token_sealed)
            .map_err(internal)?;
        let exchange_token = String::from_utf8(exchange_token.to_vec()).map_err(internal)?;
        let intent = ctx
            .store
            .link_intent(&intent.id)
            .await?
            .ok_or(LinkIntentError::InvalidWidgetToken)?;
        Ok(WidgetOutcome {
            intent,
            connected: Some(ConnectedLink {
                link,
                accounts,
                exchange_token,
            }),
        })
    }
}
