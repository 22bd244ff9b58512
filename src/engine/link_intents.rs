//! Link intents: connecting a bank through the widget, in steps a browser can take.
//!
//! 1. The client's server creates the intent with its secret key ([`create`]) and gets a widget
//!    token and an exchange token.
//! 2. The widget (public key + widget token, checked by [`open`]) sends the person's
//!    credentials ([`super::widget_login::submit_credentials`]). If the bank logs straight in,
//!    the link is created; if it asks for a second factor, the credentials and the bank's
//!    challenge are sealed into the intent's row and the widget asks the person
//!    ([`super::widget_login::answer_mfa`]). Nothing waits in memory, so any process can take
//!    the answer.
//! 3. The link is created with the same code as `POST /v1/links` ([`super::linking::prepare_link`]),
//!    in the transaction that marks the intent succeeded; its token is kept sealed.
//! 4. The client's server swaps the exchange token for the link and its token, once
//!    ([`exchange`]).
//!
//! An intent created with a link (see [`create`]) reconnects that link
//! instead: the same login and second factor, then new credentials for the link in step 3
//! ([`super::widget_reconnect`]), and an exchange that answers the link without a token.

use super::linking::LinkingError;
use super::EngineContext;
use crate::connectors::ConnectorError;
use crate::domain::*;
use crate::store::{LinkIntentSecrets, NewLinkIntent};

/// A created intent with its two tokens, shown only in the creation answer.
pub struct CreatedLinkIntent {
    /// The intent.
    pub intent: LinkIntent,
    /// For `Fintoc.create({widgetToken})`.
    pub widget_token: LinkWidgetToken,
    /// For `GET /v1/links/exchange`.
    pub exchange_token: ExchangeToken,
}

/// Why a step on a link intent (creating, opening, a widget step, the exchange) was refused.
#[derive(Debug, thiserror::Error)]
pub enum LinkIntentError {
    /// No institution serves the country.
    #[error("no institution for this country")]
    InvalidCountry,
    /// No intent of the principal's organization and mode has this id.
    #[error("no link intent {0}")]
    NotFound(String),
    /// The widget token opens no intent for this key, whatever the reason, so nothing is
    /// learned about other tenants' intents.
    #[error("invalid widget token")]
    InvalidWidgetToken,
    /// The exchange token opens no intent for this key.
    #[error("invalid exchange token")]
    InvalidExchangeToken,
    /// The intent already created its link.
    #[error("the link intent is finished")]
    Finished,
    /// Too many refused logins ended the intent.
    #[error("the link intent failed")]
    Failed,
    /// The intent expired before the widget finished.
    #[error("the link intent expired")]
    Expired,
    /// The exchange token was already swapped for the link.
    #[error("the exchange token was already used")]
    ExchangeTokenUsed,
    /// The exchange token expired.
    #[error("the exchange token expired")]
    ExchangeTokenExpired,
    /// The holder has not finished in the widget.
    #[error("the link intent has not succeeded")]
    NotSucceeded,
    /// The link the intent created is gone.
    #[error("no link {0}")]
    LinkNotFound(LinkId),
    /// The institution is not one of the intent's country.
    #[error("the institution is not offered for the intent's country")]
    InstitutionNotInCountry,
    /// The bank refused the credentials; this login counted towards the limit.
    #[error("{error} ({attempts_left} login(s) left)")]
    LoginRefused {
        /// What the bank said.
        error: ConnectorError,
        /// Logins left before the intent fails.
        attempts_left: i64,
    },
    /// A second factor was answered, but the bank has not asked for one.
    #[error("the bank has not asked for a second factor")]
    MfaNotRequested,
    /// The bank's second-factor challenge expired.
    #[error("the second-factor challenge expired")]
    MfaExpired,
    /// The second-factor code is wrong.
    #[error("the code is wrong; {attempts_left} attempt(s) left")]
    WrongMfaCode {
        /// Answers left before the person must log in again.
        attempts_left: i64,
    },
    /// The link to reconnect is inactive (`PATCH active=false`): activate it first.
    #[error("the link to reconnect is inactive")]
    LinkInactive,
    /// A field (named) disagrees with the link being reconnected.
    #[error("{0} is not the link's")]
    NotTheLinks(&'static str),
    /// A field (named) this intent needs was not sent.
    #[error("{0} is missing")]
    Missing(&'static str),
    /// Link creation failed (unknown bank, a bank failure, ours).
    #[error(transparent)]
    Linking(#[from] LinkingError),
    /// Our failure (a sealed value that does not open, a row that vanished).
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Our failure (a sealed value that does not open, a row that vanished).
pub(super) fn internal(e: impl Into<anyhow::Error>) -> LinkIntentError {
    LinkIntentError::Internal(e.into())
}

/// Creates a link intent for `principal`: one that connects a bank of `country` for a holder
/// of `holder_type`, or with `reconnect` one that gives that link new credentials (the
/// widget's reconnect flow), whose country and holder type must then be the link's.
#[tracing::instrument(skip_all, fields(country = %country))]
pub async fn create(
    ctx: &EngineContext,
    principal: &Principal,
    country: &str,
    holder_type: HolderType,
    reconnect: Option<&Link>,
) -> Result<CreatedLinkIntent, LinkIntentError> {
    match reconnect {
        Some(link) => reconnectable(link, country, holder_type)?,
        None => {
            let live = principal.mode == Mode::Live;
            if ctx.registry.search("", Some(country), live).is_empty() {
                return Err(LinkIntentError::InvalidCountry);
            }
        }
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
        reconnect_link_id: reconnect.map(|link| link.id.clone()),
        widget_token_hash: ctx.keys.hash_token(widget_token.expose()),
        exchange_token_hash: ctx.keys.hash_token(exchange_token.expose()),
        exchange_token_sealed: ctx
            .keys
            .seal(id.as_str(), exchange_token.expose().as_bytes()),
        now,
        expires_at: now.plus_millis(ctx.link_intent_ttl_millis()),
    };
    let intent = ctx.store.create_link_intent(&new).await?;
    tracing::info!(link_intent_id = %intent.id, reconnect_link_id = ?intent.reconnect_link_id,
        "link intent created");
    Ok(CreatedLinkIntent {
        intent,
        widget_token,
        exchange_token,
    })
}

/// Refuses to reconnect `link` in an intent for `country` and `holder_type`: an inactive
/// link, or another country or holder type than the link's.
fn reconnectable(
    link: &Link,
    country: &str,
    holder_type: HolderType,
) -> Result<(), LinkIntentError> {
    if !link.active {
        return Err(LinkIntentError::LinkInactive);
    }
    if !link.institution.country.eq_ignore_ascii_case(country) {
        return Err(LinkIntentError::NotTheLinks("country"));
    }
    if holder_type != link.holder_type {
        return Err(LinkIntentError::NotTheLinks("holder_type"));
    }
    Ok(())
}

/// A link intent of the principal's organization and mode, by id (for the secret key).
pub async fn retrieve(
    ctx: &EngineContext,
    principal: &Principal,
    id: &str,
) -> Result<LinkIntent, LinkIntentError> {
    let missing = || LinkIntentError::NotFound(id.to_owned());
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
) -> Result<(LinkIntent, LinkIntentSecrets), LinkIntentError> {
    let token = LinkWidgetToken::parse(token).ok_or(LinkIntentError::InvalidWidgetToken)?;
    let intent = ctx
        .store
        .link_intent(token.owner())
        .await?
        .ok_or(LinkIntentError::InvalidWidgetToken)?;
    let secrets = ctx
        .store
        .link_intent_secrets(token.owner())
        .await?
        .ok_or(LinkIntentError::InvalidWidgetToken)?;
    let ours = intent.organization_id == principal.organization_id && intent.mode == principal.mode;
    if !ours
        || !ctx
            .keys
            .verify_token(token.expose(), &secrets.widget_token_hash)
    {
        return Err(LinkIntentError::InvalidWidgetToken);
    }
    Ok((intent, secrets))
}

/// Refuses a widget step on an intent that is over.
pub fn ensure_open(intent: &LinkIntent) -> Result<(), LinkIntentError> {
    match intent.status {
        LinkIntentStatus::Succeeded => Err(LinkIntentError::Finished),
        LinkIntentStatus::Failed => Err(LinkIntentError::Failed),
        LinkIntentStatus::Created if intent.is_expired(Timestamp::now()) => {
            Err(LinkIntentError::Expired)
        }
        LinkIntentStatus::Created => Ok(()),
    }
}

/// What an exchange token is swapped for.
pub struct ExchangedLink {
    /// The link the widget created or reconnected.
    pub link: Link,
    /// Its accounts.
    pub accounts: Vec<Account>,
    /// Its token, for a link the widget created; `None` for a reconnected link, whose token
    /// the client already holds (it is not issued again).
    pub token: Option<LinkToken>,
}

/// Swaps an exchange token for the link it created (with the link's token) or reconnected,
/// once.
#[tracing::instrument(skip_all)]
pub async fn exchange(
    ctx: &EngineContext,
    principal: &Principal,
    token: &str,
) -> Result<ExchangedLink, LinkIntentError> {
    let token = ExchangeToken::parse(token).ok_or(LinkIntentError::InvalidExchangeToken)?;
    let id = &token.owner().0;
    let intent = ctx
        .store
        .link_intent(id)
        .await?
        .filter(|i| i.organization_id == principal.organization_id && i.mode == principal.mode)
        .ok_or(LinkIntentError::InvalidExchangeToken)?;
    let secrets = ctx
        .store
        .link_intent_secrets(id)
        .await?
        .ok_or(LinkIntentError::InvalidExchangeToken)?;
    if !ctx
        .keys
        .verify_token(token.expose(), &secrets.exchange_token_hash)
    {
        return Err(LinkIntentError::InvalidExchangeToken);
    }
    if intent.exchanged_at.is_some() {
        return Err(LinkIntentError::ExchangeTokenUsed);
    }
    if intent.is_expired(Timestamp::now()) {
        return Err(LinkIntentError::ExchangeTokenExpired);
    }
    if intent.status != LinkIntentStatus::Succeeded {
        return Err(LinkIntentError::NotSucceeded);
    }
    let (link_id, sealed) = ctx
        .store
        .exchange_link_intent(id)
        .await?
        .ok_or(LinkIntentError::ExchangeTokenUsed)?;
    let link_token = match sealed {
        Some(sealed) => {
            let plain = ctx.keys.unseal(id.as_str(), &sealed).map_err(internal)?;
            let token = std::str::from_utf8(&plain)
                .ok()
                .and_then(LinkToken::parse)
                .ok_or_else(|| internal(anyhow::anyhow!("stored link token is malformed")))?;
            Some(token)
        }
        None => None,
    };
    let link = ctx
        .store
        .link_by_id(&principal.organization_id, principal.mode, &link_id)
        .await?
        .ok_or_else(|| LinkIntentError::LinkNotFound(link_id.clone()))?;
    let accounts = ctx.store.accounts_of_link(&link.id).await?;
    Ok(ExchangedLink {
        link,
        accounts,
        token: link_token,
    })
}
