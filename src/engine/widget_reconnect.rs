//! The widget's reconnect flow: a link intent created with a link (see
//! [`super::link_intents::create`]) logs in to that link's bank with the
//! person's new password, through the same steps as link creation
//! ([`super::widget_login`]: refused logins counted, a second factor parked and answered), and
//! then gives the link the new credentials instead of creating a link. The link keeps its id,
//! its token and its accounts; nothing is fetched from the bank.

use super::link_intents::LinkIntentError;
use super::linking::{self, NewLinkRequest};
use super::EngineContext;
use crate::domain::text::normalize_username;
use crate::domain::*;
use crate::store::IntentReconnection;

/// Whom the widget logs in as, and where.
pub struct LoginTarget {
    /// The bank.
    pub institution_id: String,
    /// The bank login.
    pub username: String,
}

/// The bank and login of a widget login on `intent`. An intent that creates a link needs
/// both from the widget; one that reconnects a link takes the link's, and refuses others.
pub async fn login_target(
    ctx: &EngineContext,
    intent: &LinkIntent,
    institution_id: Option<&str>,
    username: Option<&str>,
) -> Result<LoginTarget, LinkIntentError> {
    let Some(link) = reconnecting(ctx, intent).await? else {
        return Ok(LoginTarget {
            institution_id: institution_id
                .ok_or(LinkIntentError::Missing("institution_id"))?
                .to_owned(),
            username: username
                .ok_or(LinkIntentError::Missing("username"))?
                .to_owned(),
        });
    };
    if institution_id.is_some_and(|id| id != link.institution.id) {
        return Err(LinkIntentError::NotTheLinks("institution_id"));
    }
    // The link keeps its username normalized (as `PATCH` reconnects with it); the widget may
    // send it as the person typed it.
    if username.is_some_and(|u| normalize_username(u) != link.username) {
        return Err(LinkIntentError::NotTheLinks("username"));
    }
    Ok(LoginTarget {
        institution_id: link.institution.id,
        username: link.username,
    })
}

/// The live link `intent` reconnects, `None` for an intent that creates a link. A link deleted
/// since the intent was created is an error.
pub async fn reconnecting(
    ctx: &EngineContext,
    intent: &LinkIntent,
) -> Result<Option<Link>, LinkIntentError> {
    let Some(id) = &intent.reconnect_link_id else {
        return Ok(None);
    };
    ctx.store
        .link_by_id(&intent.organization_id, intent.mode, id)
        .await?
        .map(Some)
        .ok_or_else(|| LinkIntentError::LinkNotFound(id.clone()))
}

/// After a login the bank accepted: seals the new credentials in place of the link's old ones
/// and marks the intent succeeded, together. `None` (nothing changed) when the intent was no
/// longer open.
pub async fn store(
    ctx: &EngineContext,
    intent: &LinkIntent,
    link_id: &LinkId,
    request: &NewLinkRequest,
    login_mfa: Option<MfaMethod>,
) -> Result<Option<(Link, Vec<Account>)>, LinkIntentError> {
    let sealed =
        linking::seal_credentials(&ctx.keys, link_id, &request.username, &request.password)?;
    match ctx
        .store
        .reconnect_link_for_intent(&intent.id, link_id, &sealed, login_mfa)
        .await?
    {
        IntentReconnection::Done => {}
        IntentReconnection::IntentClosed => return Ok(None),
        IntentReconnection::LinkGone => return Err(LinkIntentError::LinkNotFound(link_id.clone())),
    }
    let link = ctx
        .store
        .link_by_id(&intent.organization_id, intent.mode, link_id)
        .await?
        .ok_or_else(|| LinkIntentError::LinkNotFound(link_id.clone()))?;
    let accounts = ctx.store.accounts_of_link(link_id).await?;
    tracing::info!(link_intent_id = %intent.id, link_id = %link.id, "link reconnected through the widget");
    Ok(Some((link, accounts)))
}
