//! Link intents: connecting a bank through the widget, in steps a browser can take.
//!
//! 1. The client's server creates the intent with its secret key ([`create`]) and gets a widget
//!    token and an exchange token.
//! 2. The widget (public key + widget token) sends the person's credentials
//!    ([`submit_credentials`]). If the bank logs straight in, the link is created; if it asks
//!    for a second factor, the credentials and the bank's challenge are sealed into the intent's
//!    row and the widget asks the person ([`answer_mfa`]). Nothing waits in memory, so any
//!    process can take the answer.
//! 3. The link is created with the same code as `POST /v1/links` ([`linking::prepare_link`]),
//!    in the transaction that marks the intent succeeded; its token is kept sealed.
//! 4. The client's server swaps the exchange token for the link and its token, once
//!    ([`exchange`]).

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::convert::mfa_method;
use super::linking::{self, bank_error, CreatedLink, NewLinkRequest};
use super::EngineContext;
use crate::config::Secret;
use crate::connectors::{
    BankSession, Connector, ConnectorError, LoginOutcome, MfaAnswer, MfaChallenge,
};
use crate::domain::*;
use crate::error::{ApiError, ErrorType};
use crate::store::{LinkIntentSecrets, NewLinkIntent, ParkedLogin};

/// Logins the bank may refuse (or interrupt with a second factor) before the intent fails and
/// the person must start again: a stolen widget token cannot be used to guess passwords.
pub const MAX_LOGINS: i64 = 5;

/// A created intent with its two tokens, shown only in the creation answer.
pub struct CreatedLinkIntent {
    /// The intent.
    pub intent: LinkIntent,
    /// For `Fintoc.create({widgetToken})`.
    pub widget_token: LinkWidgetToken,
    /// For `GET /v1/links/exchange`.
    pub exchange_token: ExchangeToken,
}

/// Where a widget step left the intent.
pub enum WidgetOutcome {
    /// The bank asks for a second factor (see the intent's `pending_mfa`).
    MfaRequired(LinkIntent),
    /// The link exists.
    Connected {
        /// The intent, now succeeded.
        intent: LinkIntent,
        /// The new link.
        link: Link,
        /// Its accounts.
        accounts: Vec<Account>,
        /// For the widget's `onSuccess`.
        exchange_token: String,
    },
}

/// The credentials and the bank's challenge while the person finds their code (sealed at
/// rest, bound to the intent id).
#[derive(Serialize, Deserialize)]
struct PendingLogin {
    username: String,
    password: String,
    challenge: MfaChallenge,
}

fn client_error(status: StatusCode, code: &'static str, message: &str) -> ApiError {
    ApiError::client(status, ErrorType::InvalidRequest, code, message)
}

/// The answer to every token that does not open an intent for this key, whatever the reason,
/// so nothing is learned about other tenants' intents.
fn invalid_widget_token() -> ApiError {
    client_error(
        StatusCode::NOT_FOUND,
        "invalid_widget_token",
        "Invalid widget token.",
    )
}

fn invalid_exchange_token() -> ApiError {
    client_error(
        StatusCode::NOT_FOUND,
        "invalid_exchange_token",
        "Invalid exchange token: no such link intent for this API key.",
    )
    .with_param("exchange_token")
}

fn internal(e: impl Into<anyhow::Error>) -> ApiError {
    ApiError::Internal(e.into())
}

/// Creates a link intent for `principal`.
#[tracing::instrument(skip_all, fields(country = %country))]
pub async fn create(
    ctx: &EngineContext,
    principal: &Principal,
    country: &str,
    holder_type: HolderType,
) -> Result<CreatedLinkIntent, ApiError> {
    if ctx.registry.search("", Some(country)).is_empty() {
        return Err(ApiError::bad_request(
            "invalid_country",
            "No institution is available for this country (the sandbox has cl and mx).",
        )
        .with_param("country"));
    }
    let id = LinkIntentId::generate();
    let widget_token = LinkWidgetToken::generate(&id);
    let exchange_token = ExchangeToken::generate(&ExchangeOf(id.clone()));
    let now = Timestamp::now();
    let new = NewLinkIntent {
        id: id.clone(),
        organization_id: principal.organization_id.clone(),
        mode: principal.mode,
        product: PRODUCT_MOVEMENTS.to_owned(),
        country: country.to_owned(),
        holder_type,
        widget_token_hash: ctx.keys.hash_token(widget_token.expose()),
        exchange_token_hash: ctx.keys.hash_token(exchange_token.expose()),
        exchange_token_sealed: ctx
            .keys
            .seal(id.as_str(), exchange_token.expose().as_bytes()),
        now,
        expires_at: now.plus_millis(ctx.link_intent_ttl_millis()),
    };
    let intent = ctx.store.create_link_intent(&new).await?;
    tracing::info!(link_intent_id = %intent.id, "link intent created");
    Ok(CreatedLinkIntent {
        intent,
        widget_token,
        exchange_token,
    })
}

/// A link intent of the principal's organization and mode, by id (for the secret key).
pub async fn retrieve(
    ctx: &EngineContext,
    principal: &Principal,
    id: &str,
) -> Result<LinkIntent, ApiError> {
    let missing = || ApiError::not_found("link_intent", id);
    let parsed = LinkIntentId::parse(id).ok_or_else(missing)?;
    ctx.store
        .link_intent(&parsed)
        .await?
        .filter(|i| i.organization_id == principal.organization_id && i.mode == principal.mode)
        .ok_or_else(missing)
}

/// The intent a widget token opens for a public key: the token must be this intent's and the
/// key of its organization and mode. Used tokens and expired ones are told apart (the person
/// can act on that); anything else is the same 404.
pub async fn open(
    ctx: &EngineContext,
    principal: &Principal,
    token: &str,
) -> Result<(LinkIntent, LinkIntentSecrets), ApiError> {
    let token = LinkWidgetToken::parse(token).ok_or_else(invalid_widget_token)?;
    let intent = ctx
        .store
        .link_intent(token.owner())
        .await?
        .ok_or_else(invalid_widget_token)?;
    let secrets = ctx
        .store
        .link_intent_secrets(token.owner())
        .await?
        .ok_or_else(invalid_widget_token)?;
    let ours = intent.organization_id == principal.organization_id && intent.mode == principal.mode;
    if !ours
        || !ctx
            .keys
            .verify_token(token.expose(), &secrets.widget_token_hash)
    {
        return Err(invalid_widget_token());
    }
    Ok((intent, secrets))
}

/// Refuses a widget step on an intent that is over.
pub fn ensure_open(intent: &LinkIntent) -> Result<(), ApiError> {
    let unprocessable =
        |code, message| client_error(StatusCode::UNPROCESSABLE_ENTITY, code, message);
    match intent.status {
        LinkIntentStatus::Succeeded => Err(unprocessable(
            "link_intent_finished",
            "This bank connection was already completed; its widget token cannot be used again.",
        )),
        LinkIntentStatus::Failed => Err(unprocessable(
            "link_intent_failed",
            "Too many failed logins; close the widget and start again.",
        )),
        LinkIntentStatus::Created if intent.is_expired(Timestamp::now()) => Err(unprocessable(
            "link_intent_expired",
            "This connection request expired; close the widget and start again.",
        )),
        LinkIntentStatus::Created => Ok(()),
    }
}

/// The widget's login with the person's credentials at `institution_id`.
#[tracing::instrument(skip_all, fields(institution = %institution_id))]
pub async fn submit_credentials(
    ctx: &EngineContext,
    principal: &Principal,
    token: &str,
    institution_id: &str,
    username: &str,
    password: Secret,
) -> Result<WidgetOutcome, ApiError> {
    let (intent, secrets) = open(ctx, principal, token).await?;
    ensure_open(&intent)?;
    let connector = linking::connector_for(&ctx.registry, institution_id)?;
    if !connector
        .institution()
        .country
        .eq_ignore_ascii_case(&intent.country)
    {
        return Err(ApiError::bad_request(
            "invalid_institution",
            "This institution is not offered for the link intent's country.",
        )
        .with_param("institution_id"));
    }
    let request = NewLinkRequest {
        institution_id: institution_id.to_owned(),
        username: username.to_owned(),
        password,
        holder_type: intent.holder_type,
        mfa_code: None,
    };
    match connector.login(&request.credentials()).await {
        Ok(LoginOutcome::LoggedIn(session)) => {
            connect(
                ctx,
                principal,
                &intent,
                &secrets,
                connector.as_ref(),
                &request,
                &session,
                None,
            )
            .await
        }
        Ok(LoginOutcome::MfaRequired(challenge)) => {
            park(ctx, &intent, institution_id, &request, challenge).await
        }
        Err(error) => Err(refused(ctx, &intent, error).await?),
    }
}

/// The error for a login the bank refused; refusals of the credentials count towards
/// [`MAX_LOGINS`], a bank that is down does not.
async fn refused(
    ctx: &EngineContext,
    intent: &LinkIntent,
    error: ConnectorError,
) -> Result<ApiError, ApiError> {
    if !error.is_rejection() {
        return Ok(bank_error(error));
    }
    let Some(attempts) = ctx
        .store
        .record_refused_login(&intent.id, MAX_LOGINS)
        .await?
    else {
        return Ok(reloaded_error(ctx, intent).await);
    };
    let left = (MAX_LOGINS - attempts).max(0);
    Ok(bank_error(error).with_extra("login_attempts_left", serde_json::json!(left)))
}

async fn park(
    ctx: &EngineContext,
    intent: &LinkIntent,
    institution_id: &str,
    request: &NewLinkRequest,
    challenge: MfaChallenge,
) -> Result<WidgetOutcome, ApiError> {
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
        .ok_or_else(invalid_widget_token)?;
    Ok(WidgetOutcome::MfaRequired(intent))
}

/// Why a conditional update found the intent no longer open (another request finished it, or
/// it expired meanwhile).
async fn reloaded_error(ctx: &EngineContext, intent: &LinkIntent) -> ApiError {
    match ctx.store.link_intent(&intent.id).await {
        Ok(Some(now)) => ensure_open(&now).err().unwrap_or_else(|| {
            ApiError::Internal(anyhow::anyhow!("link intent update lost without a reason"))
        }),
        Ok(None) => invalid_widget_token(),
        Err(e) => ApiError::Internal(e),
    }
}

/// The widget's answer to the second factor the bank asked for at login.
#[tracing::instrument(skip_all)]
pub async fn answer_mfa(
    ctx: &EngineContext,
    principal: &Principal,
    token: &str,
    answer: MfaAnswer,
) -> Result<WidgetOutcome, ApiError> {
    let (intent, secrets) = open(ctx, principal, token).await?;
    ensure_open(&intent)?;
    let (Some(pending), Some(sealed)) = (&intent.pending_mfa, &secrets.pending_login) else {
        return Err(client_error(
            StatusCode::CONFLICT,
            "mfa_not_requested",
            "The bank has not asked for a second factor; log in first.",
        ));
    };
    if Timestamp::now() >= pending.expires_at {
        ctx.store.drop_link_mfa(&intent.id).await?;
        return Err(mfa_expired());
    }
    let plain = ctx
        .keys
        .unseal(intent.id.as_str(), sealed)
        .map_err(internal)?;
    let login: PendingLogin = serde_json::from_slice(&plain).map_err(internal)?;
    let connector = linking::connector_for(&ctx.registry, &pending.institution_id)?;
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
            connect(
                ctx,
                principal,
                &intent,
                &secrets,
                connector.as_ref(),
                &request,
                &session,
                method,
            )
            .await
        }
        Err(ConnectorError::WrongMfaCode { .. }) => {
            let max = i64::from(ctx.config.mfa_max_attempts);
            let wrong = ctx
                .store
                .record_wrong_link_mfa(&intent.id, max)
                .await?
                .unwrap_or(max);
            let left = (max - wrong).max(0);
            let message = if left == 0 {
                "The code is wrong and no attempts are left; log in again.".to_owned()
            } else {
                format!("The code is wrong; {left} attempt(s) left.")
            };
            Err(ApiError::bad_request("invalid_mfa_code", message)
                .with_param("code")
                .with_extra("attempts_left", serde_json::json!(left)))
        }
        Err(ConnectorError::MfaExpired) => {
            ctx.store.drop_link_mfa(&intent.id).await?;
            Err(mfa_expired())
        }
        Err(other) => Err(bank_error(other)),
    }
}

fn mfa_expired() -> ApiError {
    client_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "mfa_expired",
        "The second-factor challenge expired; log in again.",
    )
}

/// Fetches the bank's data and stores the link together with the intent's success.
#[allow(clippy::too_many_arguments)]
async fn connect(
    ctx: &EngineContext,
    principal: &Principal,
    intent: &LinkIntent,
    secrets: &LinkIntentSecrets,
    connector: &dyn Connector,
    request: &NewLinkRequest,
    session: &BankSession,
    login_mfa: Option<MfaMethod>,
) -> Result<WidgetOutcome, ApiError> {
    let linker = ctx.linker();
    let (new, token) =
        linking::prepare_link(&linker, principal, connector, request, session, login_mfa).await?;
    let sealed_token = ctx.keys.seal(intent.id.as_str(), token.expose().as_bytes());
    let Some((link, accounts)) = ctx
        .store
        .create_link_for_intent(&intent.id, &new, &sealed_token)
        .await?
    else {
        return Err(reloaded_error(ctx, intent).await);
    };
    let exchange_token = ctx
        .keys
        .unseal(intent.id.as_str(), &secrets.exchange_token_sealed)
        .map_err(internal)?;
    let exchange_token = String::from_utf8(exchange_token.to_vec()).map_err(internal)?;
    let intent = ctx
        .store
        .link_intent(&intent.id)
        .await?
        .ok_or_else(invalid_widget_token)?;
    tracing::info!(link_intent_id = %intent.id, link_id = %link.id, "link created through the widget");
    Ok(WidgetOutcome::Connected {
        intent,
        link,
        accounts,
        exchange_token,
    })
}

/// Swaps an exchange token for the link it created and the link's token, once.
#[tracing::instrument(skip_all)]
pub async fn exchange(
    ctx: &EngineContext,
    principal: &Principal,
    token: &str,
) -> Result<CreatedLink, ApiError> {
    let token = ExchangeToken::parse(token).ok_or_else(invalid_exchange_token)?;
    let id = &token.owner().0;
    let intent = ctx
        .store
        .link_intent(id)
        .await?
        .filter(|i| i.organization_id == principal.organization_id && i.mode == principal.mode)
        .ok_or_else(invalid_exchange_token)?;
    let secrets = ctx
        .store
        .link_intent_secrets(id)
        .await?
        .ok_or_else(invalid_exchange_token)?;
    if !ctx
        .keys
        .verify_token(token.expose(), &secrets.exchange_token_hash)
    {
        return Err(invalid_exchange_token());
    }
    let unprocessable = |code, message| {
        client_error(StatusCode::UNPROCESSABLE_ENTITY, code, message).with_param("exchange_token")
    };
    let used = || {
        unprocessable(
            "exchange_token_used",
            "This exchange token was already used: a link token is shown only once.",
        )
    };
    if intent.exchanged_at.is_some() {
        return Err(used());
    }
    if intent.is_expired(Timestamp::now()) {
        return Err(unprocessable(
            "exchange_token_expired",
            "This exchange token expired (see exchange_token_expires_at).",
        ));
    }
    if intent.status != LinkIntentStatus::Succeeded {
        return Err(unprocessable(
            "link_intent_not_succeeded",
            "The holder has not finished connecting their bank through the widget.",
        ));
    }
    let (link_id, sealed) = ctx.store.exchange_link_intent(id).await?.ok_or_else(used)?;
    let plain = ctx.keys.unseal(id.as_str(), &sealed).map_err(internal)?;
    let link_token = std::str::from_utf8(&plain)
        .ok()
        .and_then(LinkToken::parse)
        .ok_or_else(|| internal(anyhow::anyhow!("stored link token is malformed")))?;
    let link = ctx
        .store
        .link_by_id(&principal.organization_id, principal.mode, &link_id)
        .await?
        .ok_or_else(|| ApiError::not_found("link", link_id.as_str()))?;
    let accounts = ctx.store.accounts_of_link(&link.id).await?;
    Ok(CreatedLink {
        link,
        accounts,
        token: link_token,
    })
}
