//! Widget-facing link-intent endpoints (public key + widget token): read the intent, search its
//! country's institutions, send the person's credentials, answer the bank's second factor.
//! A widget token works only while its intent is open: once used, failed or expired it opens
//! nothing (see `docs/widget.md`).

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{JsonBody, PublicKey, Query};
use super::links::required;
use super::refresh_intents::MfaIn;
use super::wire::{ErrorBody, InstitutionOut};
use super::AppState;
use crate::config::Secret;
use crate::connectors::Institution;
use crate::domain::*;
use crate::engine::widget_login::{self, ConnectedLink, WidgetOutcome, MAX_LOGINS};
use crate::engine::{link_intents, widget_reconnect};
use crate::error::ApiError;

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/widget/link_intents/{widget_token}",
            get(get_widget_link_intent),
        )
        .route(
            "/v1/widget/link_intents/{widget_token}/institutions",
            get(list_widget_institutions),
        )
        .route(
            "/v1/widget/link_intents/{widget_token}/credentials",
            post(submit_widget_credentials),
        )
        .route(
            "/v1/widget/link_intents/{widget_token}/mfa",
            post(answer_widget_link_mfa),
        )
}

/// The second factor the bank waits for.
#[derive(Debug, Serialize, ToSchema)]
pub struct WidgetMfaOut {
    /// `sms`, `device` or `app`.
    pub method: String,
    /// What the bank says, e.g. the masked phone number the SMS went to.
    pub hint: Option<String>,
    /// Wrong answers left before the person must log in again.
    pub attempts_left: i64,
    /// When the challenge expires.
    pub expires_at: String,
    /// The bank.
    pub institution: InstitutionOut,
}

/// An account as the widget shows it on success (the number masked).
#[derive(Debug, Serialize, ToSchema)]
pub struct WidgetAccountOut {
    /// Standardized name.
    pub name: String,
    /// The bank's name for it.
    pub official_name: String,
    /// The last four digits, e.g. `••••1234`.
    pub number: String,
    /// Account type.
    #[serde(rename = "type")]
    pub account_type: String,
    /// ISO 4217.
    pub currency: String,
}

/// The link the widget just created (no token: that is for the exchange).
#[derive(Debug, Serialize, ToSchema)]
pub struct WidgetLinkOut {
    /// `link_…`
    pub id: String,
    /// The bank.
    pub institution: InstitutionOut,
    /// The holder's name as the bank writes it.
    pub holder_name: String,
    /// Its accounts.
    pub accounts: Vec<WidgetAccountOut>,
}

/// The link a reconnecting intent gives new credentials to, as the widget shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WidgetReconnectOut {
    /// The link's bank: the widget logs in there, without a bank picker.
    pub institution: InstitutionOut,
    /// The link's bank login (normalized), shown to the person; only the password is asked.
    pub username: String,
}

/// What the widget may see of a link intent.
#[derive(Debug, Serialize, ToSchema)]
pub struct WidgetLinkIntentOut {
    /// `li_…`
    pub id: String,
    /// Always `link_intent`.
    #[schema(example = "link_intent")]
    pub object: &'static str,
    /// `created` while the person connects, then `succeeded`.
    pub status: String,
    /// Always `movements`.
    pub product: String,
    /// Lowercase ISO country of the banks offered.
    pub country: String,
    /// `individual` or `business`.
    pub holder_type: String,
    /// `test` or `live`.
    pub mode: String,
    /// When the widget token stops working.
    pub expires_at: String,
    /// Refused logins left before the intent fails.
    pub login_attempts_left: i64,
    /// The second factor the bank waits for, if any.
    pub mfa: Option<WidgetMfaOut>,
    /// For an intent that reconnects a link: its bank and login.
    pub reconnect: Option<WidgetReconnectOut>,
    /// For `onSuccess`: only in the answer that created the link.
    pub exchange_token: Option<String>,
    /// The created link: only in the answer that created it.
    pub link: Option<WidgetLinkOut>,
}

fn institution_out(institution: &Institution) -> InstitutionOut {
    InstitutionOut {
        id: institution.id.to_string(),
        name: institution.name.to_string(),
        country: institution.country.to_string(),
    }
}

fn masked(number: &str) -> String {
    let digits: Vec<char> = number.chars().collect();
    let tail: String = digits[digits.len().saturating_sub(4)..].iter().collect();
    format!("••••{tail}")
}

/// What the widget sees of `intent`, with the link it reconnects.
async fn view(state: &AppState, intent: &LinkIntent) -> Result<WidgetLinkIntentOut, ApiError> {
    let reconnect = widget_reconnect::reconnecting(state, intent)
        .await?
        .map(|link| WidgetReconnectOut {
            institution: (&link.institution).into(),
            username: link.username,
        });
    Ok(WidgetLinkIntentOut {
        reconnect,
        ..intent_view(state, intent)
    })
}

fn intent_view(state: &AppState, intent: &LinkIntent) -> WidgetLinkIntentOut {
    let max_mfa = i64::from(state.config.mfa_max_attempts);
    let now = Timestamp::now();
    // An expired challenge is not shown: the widget goes back to the login.
    let pending = intent.pending_mfa.as_ref().filter(|p| now < p.expires_at);
    let mfa = pending.and_then(|pending| {
        let connector = state.registry.get(&pending.institution_id)?;
        Some(WidgetMfaOut {
            method: pending.method.as_str().to_owned(),
            hint: pending.hint.clone(),
            attempts_left: (max_mfa - pending.attempts).max(0),
            expires_at: pending.expires_at.to_wire(),
            institution: institution_out(connector.institution()),
        })
    });
    WidgetLinkIntentOut {
        id: intent.id.to_string(),
        object: "link_intent",
        status: intent.wire_status(now).to_owned(),
        product: intent.product.clone(),
        country: intent.country.clone(),
        holder_type: intent.holder_type.as_str().to_owned(),
        mode: intent.mode.as_str().to_owned(),
        expires_at: intent.expires_at.to_wire(),
        login_attempts_left: (MAX_LOGINS - intent.login_attempts).max(0),
        mfa,
        reconnect: None,
        exchange_token: None,
        link: None,
    }
}

async fn outcome_view(
    state: &AppState,
    outcome: WidgetOutcome,
) -> Result<WidgetLinkIntentOut, ApiError> {
    let mut out = view(state, &outcome.intent).await?;
    if let Some(ConnectedLink {
        link,
        accounts,
        exchange_token,
    }) = outcome.connected
    {
        out.exchange_token = Some(exchange_token);
        out.link = Some(WidgetLinkOut {
            id: link.id.to_string(),
            institution: (&link.institution).into(),
            holder_name: accounts
                .first()
                .map(|a| a.data.holder_name.clone())
                .unwrap_or_default(),
            accounts: accounts
                .iter()
                .map(|a| WidgetAccountOut {
                    name: a.data.name.clone(),
                    official_name: a.data.official_name.clone(),
                    number: masked(&a.data.number),
                    account_type: a.data.account_type.clone(),
                    currency: a.data.currency.clone(),
                })
                .collect(),
        });
    }
    Ok(out)
}

/// The link intent a widget token opens, while it is open.
#[utoipa::path(get, path = "/v1/widget/link_intents/{widget_token}", tag = "widget",
    params(("widget_token" = String, Path)),
    responses((status = 200, body = WidgetLinkIntentOut), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get_widget_link_intent(
    State(state): State<AppState>,
    PublicKey(principal): PublicKey,
    Path(token): Path<String>,
) -> Result<Json<WidgetLinkIntentOut>, ApiError> {
    let (intent, _) = link_intents::open(&state, &principal, &token).await?;
    link_intents::ensure_open(&intent)?;
    Ok(Json(view(&state, &intent).await?))
}

/// Query of the institution search.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InstitutionQuery {
    /// Part of the name or id, ignoring case and accents; empty lists all.
    pub q: Option<String>,
}

/// The institutions of the intent's country whose name or id contains `q`.
#[utoipa::path(get, path = "/v1/widget/link_intents/{widget_token}/institutions", tag = "widget",
    params(("widget_token" = String, Path), InstitutionQuery),
    responses((status = 200, body = [InstitutionOut]), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_widget_institutions(
    State(state): State<AppState>,
    PublicKey(principal): PublicKey,
    Path(token): Path<String>,
    Query(query): Query<InstitutionQuery>,
) -> Result<Json<Vec<InstitutionOut>>, ApiError> {
    let (intent, _) = link_intents::open(&state, &principal, &token).await?;
    link_intents::ensure_open(&intent)?;
    let q = query.q.unwrap_or_default();
    if q.chars().count() > 100 {
        return Err(ApiError::invalid_param("q", "is too long"));
    }
    let found = state
        .registry
        .search(&q, Some(&intent.country), intent.mode == Mode::Live);
    Ok(Json(found.iter().map(institution_out).collect()))
}

/// Body of the credentials step.
#[derive(Debug, Deserialize, ToSchema)]
pub struct WidgetCredentialsIn {
    /// The chosen institution. Optional when the intent reconnects a link (the link's; another
    /// is refused).
    pub institution_id: Option<String>,
    /// Bank login (a RUT in Chile, an RFC in Mexico). Optional when the intent reconnects a
    /// link (the link's; another is refused).
    pub username: Option<String>,
    /// Bank password. Sealed at rest, never returned.
    pub password: Option<String>,
}

/// Logs in to the bank with the person's credentials. Answers the intent: `succeeded` with the
/// exchange token, or `created` with `mfa` when the bank asks for a second factor.
#[utoipa::path(post, path = "/v1/widget/link_intents/{widget_token}/credentials", tag = "widget",
    params(("widget_token" = String, Path)), request_body = WidgetCredentialsIn,
    responses((status = 200, body = WidgetLinkIntentOut), (status = "4XX", body = ErrorBody),
        (status = 503, description = "The bank is unavailable", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn submit_widget_credentials(
    State(state): State<AppState>,
    PublicKey(principal): PublicKey,
    Path(token): Path<String>,
    JsonBody(body): JsonBody<WidgetCredentialsIn>,
) -> Result<Json<WidgetLinkIntentOut>, ApiError> {
    let blank_is_absent = |v: &Option<String>| -> Option<String> {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let institution_id = blank_is_absent(&body.institution_id);
    let username = blank_is_absent(&body.username);
    let password = required(&body.password, "password")?;
    if username.as_ref().is_some_and(|u| u.len() > 128) || password.len() > 256 {
        return Err(ApiError::invalid_param("password", "is too long"));
    }
    let outcome = widget_login::submit_credentials(
        &state,
        &principal,
        &token,
        institution_id.as_deref(),
        username.as_deref(),
        Secret::new(password),
    )
    .await?;
    Ok(Json(outcome_view(&state, outcome).await?))
}

/// Answers the second factor the bank asked for at login: `{"code": "…"}` or
/// `{"approved": true}`. Answers the intent, `succeeded` with the exchange token.
#[utoipa::path(post, path = "/v1/widget/link_intents/{widget_token}/mfa", tag = "widget",
    params(("widget_token" = String, Path)), request_body = MfaIn,
    responses((status = 200, body = WidgetLinkIntentOut), (status = "4XX", body = ErrorBody),
        (status = 503, description = "The bank is unavailable", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn answer_widget_link_mfa(
    State(state): State<AppState>,
    PublicKey(principal): PublicKey,
    Path(token): Path<String>,
    JsonBody(body): JsonBody<MfaIn>,
) -> Result<Json<WidgetLinkIntentOut>, ApiError> {
    let outcome = widget_login::answer_mfa(&state, &principal, &token, body.answer()?).await?;
    Ok(Json(outcome_view(&state, outcome).await?))
}
