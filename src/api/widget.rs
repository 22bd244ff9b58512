//! Widget-facing endpoints: the hosted widget holds only the organization's public key and a
//! widget token, and uses them to read a refresh intent's MFA state and answer it.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::{JsonBody, PublicKey};
use super::refresh_intents::MfaIn;
use super::wire::ErrorBody;
use super::AppState;
use crate::domain::*;
use crate::engine::mfa;
use crate::error::ApiError;

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/widget/refresh_intents/{widget_token}",
            get(get_widget_refresh_intent),
        )
        .route(
            "/v1/widget/refresh_intents/{widget_token}/mfa",
            post(answer_widget_mfa),
        )
}

/// What the widget may see of a refresh intent (no account data).
#[derive(Debug, Serialize, ToSchema)]
pub struct WidgetRefreshIntentOut {
    /// `ri_…`
    pub id: String,
    /// `created`, `succeeded`, `failed` or `rejected`.
    pub status: String,
    /// `waiting_for_bank` (the bank has not asked yet), `awaiting_answer`, `answered`, or
    /// `none` when no second factor is involved any more.
    pub mfa_status: String,
    /// `sms`, `device` or `app`.
    pub mfa_method: Option<String>,
    /// When the challenge expires.
    pub mfa_expires_at: Option<String>,
    /// Answers left.
    pub mfa_attempts_left: i64,
    /// The bank's name.
    pub institution_name: String,
}

/// Resolves a widget token for a public key; every failure looks the same.
async fn intent_for_widget(
    state: &AppState,
    principal: &Principal,
    token: &str,
) -> Result<RefreshIntent, ApiError> {
    let invalid = || {
        ApiError::client(
            axum::http::StatusCode::NOT_FOUND,
            crate::error::ErrorType::InvalidRequest,
            "invalid_widget_token",
            "Invalid widget token.",
        )
    };
    let token = WidgetToken::parse(token).ok_or_else(invalid)?;
    let (hash, org, mode) = state
        .store
        .widget_token_hash(token.owner())
        .await?
        .ok_or_else(invalid)?;
    if org != principal.organization_id
        || mode != principal.mode
        || !state.keys.verify_token(token.expose(), &hash)
    {
        return Err(invalid());
    }
    state
        .store
        .refresh_intent_by_id(token.owner())
        .await?
        .ok_or_else(invalid)
}

/// The MFA state of the intent a widget token opens.
#[utoipa::path(get, path = "/v1/widget/refresh_intents/{widget_token}", tag = "widget",
    params(("widget_token" = String, Path)),
    responses((status = 200, body = WidgetRefreshIntentOut), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get_widget_refresh_intent(
    State(state): State<AppState>,
    PublicKey(principal): PublicKey,
    Path(token): Path<String>,
) -> Result<Json<WidgetRefreshIntentOut>, ApiError> {
    let intent = intent_for_widget(&state, &principal, &token).await?;
    Ok(Json(widget_view(&state, &intent).await?))
}

async fn widget_view(
    state: &AppState,
    intent: &RefreshIntent,
) -> Result<WidgetRefreshIntentOut, ApiError> {
    let mfa_state = state.store.mfa_state(&intent.id).await?;
    let attempts = mfa_state.as_ref().map_or(0, |s| s.attempts);
    let mfa_status = match (&mfa_state, intent.status.is_final()) {
        (_, true) | (None, _) => "none",
        (Some(s), false) if s.completed => "answered",
        (Some(s), false) if s.challenge.is_some() => "awaiting_answer",
        (Some(_), false) if intent.mfa_pending.is_some() => "waiting_for_bank",
        _ => "none",
    };
    let institution_name = state
        .store
        .link_including_deleted(&intent.link_id)
        .await?
        .map(|l| l.institution.name)
        .unwrap_or_default();
    Ok(WidgetRefreshIntentOut {
        id: intent.id.to_string(),
        status: intent.status.as_str().to_owned(),
        mfa_status: mfa_status.to_owned(),
        mfa_method: intent.mfa_pending.map(|m| m.as_str().to_owned()),
        mfa_expires_at: intent
            .mfa_pending
            .and(intent.mfa_expires_at)
            .map(Timestamp::to_wire),
        mfa_attempts_left: (i64::from(state.config.mfa_max_attempts) - attempts).max(0),
        institution_name,
    })
}

/// Answers the second factor from the widget.
#[utoipa::path(post, path = "/v1/widget/refresh_intents/{widget_token}/mfa", tag = "widget",
    params(("widget_token" = String, Path)), request_body = MfaIn,
    responses((status = 200, body = WidgetRefreshIntentOut), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn answer_widget_mfa(
    State(state): State<AppState>,
    PublicKey(principal): PublicKey,
    Path(token): Path<String>,
    JsonBody(body): JsonBody<MfaIn>,
) -> Result<Json<WidgetRefreshIntentOut>, ApiError> {
    let intent = intent_for_widget(&state, &principal, &token).await?;
    mfa::answer(&state, &intent, body.answer()?).await?;
    let intent = state
        .store
        .refresh_intent_by_id(&intent.id)
        .await?
        .ok_or_else(|| ApiError::not_found("refresh_intent", intent.id.as_str()))?;
    Ok(Json(widget_view(&state, &intent).await?))
}
