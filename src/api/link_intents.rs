//! `/v1/link_intents` and `/v1/links/exchange` (secret key): how a client's server starts a
//! bank connection through the widget and then collects the link. See `docs/widget.md`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{resolve_link_token, JsonBody, Query, SecretKey};
use super::links::required;
use super::wire::{ErrorBody, LinkOut};
use super::AppState;
use crate::domain::*;
use crate::engine::link_intents::{self, CreatedLinkIntent};
use crate::error::ApiError;

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/link_intents", post(create_link_intent))
        .route("/v1/link_intents/{id}", get(get_link_intent))
        // A static segment: matched before `/v1/links/{link_token}`.
        .route("/v1/links/exchange", get(exchange_link))
}

/// The products a link intent can be for, for the OpenAPI document.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ProductIn {
    /// Bank accounts and their movements.
    Movements,
}

/// Body of `POST /v1/link_intents`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LinkIntentIn {
    /// Always `movements`.
    #[schema(required = true, nullable = false, value_type = ProductIn)]
    pub product: Option<String>,
    /// Lowercase ISO country whose banks the widget offers (the sandbox has `cl` and `mx`;
    /// the served document lists the server's). With `link_token`: the link's.
    #[schema(required = true, nullable = false, value_type = String)]
    pub country: Option<String>,
    /// `individual` or `business`. With `link_token`: the link's.
    #[schema(required = true, nullable = false, value_type = super::links::HolderTypeIn)]
    pub holder_type: Option<String>,
    /// Our addition for the widget's reconnect flow: the token of an active link of this
    /// organization and mode whose credentials the holder will replace in the widget. The
    /// link keeps its id, token and accounts; the exchange answers it with `link_token` null.
    /// Absent or null: a new link.
    pub link_token: Option<String>,
}

/// A Link Intent object. `widget_token` and `exchange_token` appear only in the creation
/// answer; `link_id` is our addition.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkIntentOut {
    /// `li_…`
    pub id: String,
    /// Always `link_intent`.
    #[schema(example = "link_intent")]
    pub object: &'static str,
    /// Lowercase ISO country.
    pub country: String,
    /// Creation time.
    pub created_at: String,
    /// `li_<id>_exc_<secret>`: swap it for the link at `GET /v1/links/exchange` once the
    /// widget succeeded. Only in the creation answer.
    pub exchange_token: Option<String>,
    /// When the exchange token (and the widget token) stop working.
    pub exchange_token_expires_at: String,
    /// `individual` or `business`.
    pub holder_type: String,
    /// `test` or `live`.
    pub mode: String,
    /// Always `movements`.
    pub product: String,
    /// `created`, `succeeded`, `failed` (too many refused logins) or `expired`.
    pub status: String,
    /// `li_<id>_sec_<secret>`: give it to `Fintoc.create({widgetToken})` with your public key.
    /// Only in the creation answer.
    pub widget_token: Option<String>,
    /// The link the widget created (or reconnected, for an intent made with a `link_token`),
    /// once succeeded.
    pub link_id: Option<String>,
}

impl LinkIntentOut {
    /// The wire form, without tokens.
    pub fn new(intent: &LinkIntent) -> Self {
        Self {
            id: intent.id.to_string(),
            object: "link_intent",
            country: intent.country.clone(),
            created_at: intent.created_at.to_wire(),
            exchange_token: None,
            exchange_token_expires_at: intent.expires_at.to_wire(),
            holder_type: intent.holder_type.as_str().to_owned(),
            mode: intent.mode.as_str().to_owned(),
            product: intent.product.clone(),
            status: intent.wire_status(Timestamp::now()).to_owned(),
            widget_token: None,
            link_id: intent.link_id.as_ref().map(LinkId::to_string),
        }
    }
}

/// Starts a bank connection for the widget, or with `link_token` the reconnection of that
/// link: answers with the widget token (for the browser) and the exchange token (for your
/// server).
#[utoipa::path(post, path = "/v1/link_intents", tag = "link_intents", request_body = LinkIntentIn,
    responses((status = 201, body = LinkIntentOut), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create_link_intent(
    State(state): State<AppState>,
    SecretKey(principal): SecretKey,
    JsonBody(body): JsonBody<LinkIntentIn>,
) -> Result<Response, ApiError> {
    if required(&body.product, "product")? != PRODUCT_MOVEMENTS {
        return Err(
            ApiError::bad_request("invalid_product", "product must be movements")
                .with_param("product"),
        );
    }
    let country = required(&body.country, "country")?.to_ascii_lowercase();
    let holder_type =
        HolderType::parse(required(&body.holder_type, "holder_type")?).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_holder_type",
                "holder_type must be individual or business",
            )
            .with_param("holder_type")
        })?;
    let reconnect = match body.link_token.as_deref().filter(|t| !t.trim().is_empty()) {
        Some(token) => Some(resolve_link_token(&state, &principal, token).await?),
        None => None,
    };
    let CreatedLinkIntent {
        intent,
        widget_token,
        exchange_token,
    } = link_intents::create(
        &state,
        &principal,
        &country,
        holder_type,
        reconnect.as_ref(),
    )
    .await?;
    let mut out = LinkIntentOut::new(&intent);
    out.widget_token = Some(widget_token.expose().to_owned());
    out.exchange_token = Some(exchange_token.expose().to_owned());
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// Retrieves a link intent (our addition: to see whether the widget finished).
#[utoipa::path(get, path = "/v1/link_intents/{id}", tag = "link_intents",
    params(("id" = String, Path)),
    responses((status = 200, body = LinkIntentOut), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get_link_intent(
    State(state): State<AppState>,
    SecretKey(principal): SecretKey,
    Path(id): Path<String>,
) -> Result<Json<LinkIntentOut>, ApiError> {
    let intent = link_intents::retrieve(&state, &principal, &id).await?;
    Ok(Json(LinkIntentOut::new(&intent)))
}

/// Query of `GET /v1/links/exchange`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExchangeQuery {
    /// The link intent's `exchange_token`.
    #[param(required = true, value_type = String, pattern = r"\S")]
    pub exchange_token: Option<String>,
}

/// Swaps the exchange token of a succeeded link intent for the link, with its accounts and
/// its `link_token` (null for a reconnected link: the token is not issued again). Works once,
/// until `exchange_token_expires_at`.
#[utoipa::path(get, path = "/v1/links/exchange", tag = "links", params(ExchangeQuery),
    responses((status = 200, body = LinkOut), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn exchange_link(
    State(state): State<AppState>,
    SecretKey(principal): SecretKey,
    Query(query): Query<ExchangeQuery>,
) -> Result<Json<LinkOut>, ApiError> {
    let token = required(&query.exchange_token, "exchange_token")?;
    let exchanged = link_intents::exchange(&state, &principal, token).await?;
    Ok(Json(LinkOut::new(
        &exchanged.link,
        Some(&exchanged.accounts),
        exchanged.token.as_ref(),
    )))
}
