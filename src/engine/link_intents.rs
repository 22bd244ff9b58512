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

use axum::http::StatusCode;

use super::linking::CreatedLink;
use super::EngineContext;
use crate::domain::*;
use crate::error::{ApiError, ErrorType};
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

/// An `invalid_request_error` with `status`.
pub(super) fn client_error(status: StatusCode, code: &'static str, message: &str) -> ApiError {
    ApiError::client(status, ErrorType::InvalidRequest, code, message)
}

/// The answer to every token that does not open an intent for this key, whatever the reason,
/// so nothing is learned about other tenants' intents.
pub(super) fn invalid_widget_token() -> ApiError {
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

/// Our failure (a sealed value that does not open, a row that vanished).
pub(super) fn internal(e: impl Into<anyhow::Error>) -> ApiError {
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
