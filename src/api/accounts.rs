//! `/v1/accounts` and `/v1/accounts/{id}/movements`, scoped by `?link_token=`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::Deserialize;

use super::extract::{LinkScope, Query};
use super::pagination::{PageQuery, PageResponse};
use super::schemas;
use super::wire::{AccountOut, ErrorBody, MovementOut};
use super::AppState;
use crate::domain::{Account, AccountId, MovementId};
use crate::error::ApiError;
use crate::store::MovementFilter;

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/accounts", get(list_accounts))
        .route("/v1/accounts/{account_id}", get(get_account))
        .route("/v1/accounts/{account_id}/movements", get(list_movements))
        .route(
            "/v1/accounts/{account_id}/movements/{movement_id}",
            get(get_movement),
        )
}

/// The `link_token` query parameter, for the OpenAPI document.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinkTokenParam {
    /// The link's token.
    #[param(min_length = 1)]
    pub link_token: String,
}

/// Lists the link's accounts.
#[utoipa::path(get, path = "/v1/accounts", tag = "accounts", params(LinkTokenParam, PageQuery),
    responses((status = 200, body = [AccountOut]), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_accounts(
    State(state): State<AppState>,
    scope: LinkScope,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<PageResponse, ApiError> {
    let request = query.validate()?;
    let page = state.store.list_accounts(&scope.link.id, request).await?;
    Ok(PageResponse::new(
        &page,
        AccountOut::from,
        request,
        &state.config,
        &headers,
        uri,
    ))
}

async fn account_in_scope(
    state: &AppState,
    scope: &LinkScope,
    account_id: &str,
) -> Result<Account, ApiError> {
    let id =
        AccountId::parse(account_id).ok_or_else(|| ApiError::not_found("account", account_id))?;
    state
        .store
        .account(&scope.link.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("account", account_id))
}

/// Retrieves one account of the link.
#[utoipa::path(get, path = "/v1/accounts/{account_id}", tag = "accounts",
    params(("account_id" = String, Path), LinkTokenParam),
    responses((status = 200, body = AccountOut), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get_account(
    State(state): State<AppState>,
    scope: LinkScope,
    Path(account_id): Path<String>,
) -> Result<Json<AccountOut>, ApiError> {
    let account = account_in_scope(&state, &scope, &account_id).await?;
    Ok(Json(AccountOut::from(&account)))
}

/// Filters of the movements list, as they arrive.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MovementQuery {
    /// Only movements with `post_date >= since` (ISO 8601 date or date-time).
    #[param(schema_with = schemas::date_or_time)]
    pub since: Option<String>,
    /// Only movements with `post_date < until` (exclusive; ISO 8601 date or date-time).
    #[param(schema_with = schemas::date_or_time)]
    pub until: Option<String>,
    /// `true` (default): only confirmed movements; `false`: every status.
    #[param(value_type = Option<bool>)]
    pub confirmed_only: Option<String>,
}

impl MovementQuery {
    fn filter(&self) -> Result<MovementFilter, ApiError> {
        let confirmed_only = match self.confirmed_only.as_deref().map(str::to_ascii_lowercase) {
            None => true,
            Some(v) if v == "true" || v == "1" => true,
            Some(v) if v == "false" || v == "0" => false,
            Some(_) => {
                return Err(ApiError::bad_request(
                    "invalid_boolean",
                    "confirmed_only must be true or false",
                )
                .with_param("confirmed_only"))
            }
        };
        Ok(MovementFilter {
            since: parse_date("since", self.since.as_deref())?,
            until: parse_date("until", self.until.as_deref())?,
            confirmed_only,
        })
    }
}

/// Accepts `YYYY-MM-DD` or a full ISO 8601 date-time (its UTC date is used). Present but
/// empty (or padded with blanks) is refused: the document's formats allow neither.
fn parse_date(name: &str, value: Option<&str>) -> Result<Option<NaiveDate>, ApiError> {
    let Some(text) = value else {
        return Ok(None);
    };
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(Some(date));
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| Some(t.with_timezone(&chrono::Utc).date_naive()))
        .map_err(|_| {
            ApiError::bad_request(
                "invalid_date",
                format!("{name} must be an ISO 8601 date such as 2024-01-31"),
            )
            .with_param(name)
        })
}

/// Lists an account's movements, newest first.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/movements", tag = "movements",
    params(("account_id" = String, Path), LinkTokenParam, MovementQuery, PageQuery),
    responses((status = 200, body = [MovementOut]), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_movements(
    State(state): State<AppState>,
    scope: LinkScope,
    Path(account_id): Path<String>,
    Query(filters): Query<MovementQuery>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<PageResponse, ApiError> {
    let filter = filters.filter()?;
    let request = query.validate()?;
    // The account's check is part of the page's read: one round trip, not two.
    let not_found = || ApiError::not_found("account", &account_id);
    let id = AccountId::parse(&account_id).ok_or_else(not_found)?;
    let page = state
        .store
        .list_movements(&scope.link.id, &id, filter, request)
        .await?
        .ok_or_else(not_found)?;
    Ok(PageResponse::new(
        &page,
        MovementOut::from,
        request,
        &state.config,
        &headers,
        uri,
    ))
}

/// Retrieves one movement of an account.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/movements/{movement_id}", tag = "movements",
    params(("account_id" = String, Path), ("movement_id" = String, Path), LinkTokenParam),
    responses((status = 200, body = MovementOut), (status = "4XX", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get_movement(
    State(state): State<AppState>,
    scope: LinkScope,
    Path((account_id, movement_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let account = account_in_scope(&state, &scope, &account_id).await?;
    let id = MovementId::parse(&movement_id)
        .ok_or_else(|| ApiError::not_found("movement", &movement_id))?;
    let movement = state
        .store
        .movement(&account.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("movement", &movement_id))?;
    // The wire form borrows the movement, so it is turned into a response here.
    Ok(Json(MovementOut::from(&movement)).into_response())
}
