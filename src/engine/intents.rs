//! Creating a refresh intent: the rules on create, the widget token for banks that ask for a
//! second factor, and the job, committed together.

use super::EngineContext;
use crate::domain::*;
use crate::store::{KeyedCreate, NewRefreshIntent};

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
/// With `keyed`, that write also stores the answer to the request's `Idempotency-Key`.
#[tracing::instrument(skip_all, fields(link_id = %token.link_id(), intent_id = tracing::field::Empty))]
pub async fn create(
    ctx: &EngineContext,
    principal: &Principal,
    token: &LinkToken,
    refresh_type: RefreshType,
    forced_result: Option<IntentStatus>,
    keyed: Option<&KeyedCreate>,
) -> Result<CreatedIntent, CreateIntentError> {
    let id = RefreshIntentId::generate();
    tracing::Span::current().record("intent_id", id.as_str());
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
    crate::trace_context::remember(&ctx.store, &id).await;
    let intent = ctx
        .store
        .create_refresh_intent(&new, ctx.config.cooldowns(), keyed)
        .await?;
    ctx.store.metrics().intent_created(principal.mode.as_str());
    ctx.wake.notify_one();
    // The insert kept the widget token only if the bank will ask for a second factor.
    let widget_token = intent.widget_token_sealed.is_some().then_some(widget_token);
    Ok(CreatedIntent {
        intent,
        widget_token,
    })
}
