//! Any set of connectors served over the protocol: what `refresco connector serve-sandbox`
//! runs for the sandbox banks, and a reference for connector authors.
//!
//! Movements are paged: a page holds at most `page_size` of them and its `next_cursor` is the
//! offset of the next one. The connectors behind it answer the same movements for the same
//! session, window and context, so offsets stay meaningful from page to page.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use subtle::ConstantTimeEq;

use super::{
    AccountsRequest, AccountsResponse, ErrorBody, ErrorResponse, LoginRequest, LoginResponse,
    Manifest, MfaRequest, MfaResponse, MovementsRequest, MovementsResponse, VERSION,
    VERSION_HEADER,
};
use crate::config::Secret;
use crate::connectors::{Connector, ConnectorError, ErrorClass, LoginOutcome, Registry};

/// What the served connectors need.
#[derive(Clone)]
struct Served {
    registry: Registry,
    token: Arc<Secret>,
    page_size: usize,
}

/// The protocol's routes over `registry`'s connectors, for callers presenting `token`, with
/// at most `page_size` movements a page.
pub fn router(registry: Registry, token: Secret, page_size: usize) -> Router {
    let served = Served {
        registry,
        token: Arc::new(token),
        page_size: page_size.max(1),
    };
    Router::new()
        .route("/manifest", get(manifest))
        .route("/login", post(login))
        .route("/mfa", post(mfa))
        .route("/accounts", post(accounts))
        .route("/movements", post(movements))
        .layer(axum::middleware::from_fn_with_state(
            served.clone(),
            authenticate,
        ))
        .with_state(served)
}

type Answer<T> = Result<Json<T>, Failure>;

/// An error answer in the protocol's shape.
struct Failure(StatusCode, ErrorBody);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, Json(ErrorResponse { error: self.1 })).into_response()
    }
}

impl From<ConnectorError> for Failure {
    fn from(error: ConnectorError) -> Self {
        let (code, body) = ErrorBody::from_error(&error);
        let status = StatusCode::from_u16(code.status()).unwrap_or(StatusCode::BAD_GATEWAY);
        Failure(status, body)
    }
}

impl From<JsonRejection> for Failure {
    fn from(rejection: JsonRejection) -> Self {
        refused(StatusCode::BAD_REQUEST, rejection.body_text())
    }
}

fn refused(status: StatusCode, message: String) -> Failure {
    Failure(
        status,
        ErrorBody {
            code: "other".into(),
            message,
            attempts_left: None,
            bank_id: None,
            class: Some(ErrorClass::Connector.as_str().to_owned()),
        },
    )
}

async fn authenticate(State(served): State<Served>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let expected = served.token.expose().as_bytes();
    if !bool::from(presented.as_bytes().ct_eq(expected)) {
        return refused(
            StatusCode::UNAUTHORIZED,
            "wrong or missing bearer token".into(),
        )
        .into_response();
    }
    let version = request
        .headers()
        .get(VERSION_HEADER)
        .and_then(|v| v.to_str().ok());
    if version.is_some_and(|v| v != VERSION.to_string()) {
        return refused(
            StatusCode::BAD_REQUEST,
            format!("this connector speaks protocol {VERSION}"),
        )
        .into_response();
    }
    next.run(request).await
}

impl Served {
    fn connector(&self, institution_id: &str) -> Result<Arc<dyn Connector>, Failure> {
        self.registry.get(institution_id).ok_or_else(|| {
            refused(
                StatusCode::NOT_FOUND,
                format!("this connector does not serve {institution_id:?}"),
            )
        })
    }
}

async fn manifest(State(served): State<Served>) -> Json<Manifest> {
    Json(Manifest {
        protocol: VERSION,
        institutions: served.registry.list(),
    })
}

async fn login(
    State(served): State<Served>,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Answer<LoginResponse> {
    let Json(request) = body?;
    let connector = served.connector(&request.institution_id)?;
    Ok(Json(match connector.login(&request.credentials).await? {
        LoginOutcome::LoggedIn(session) => LoginResponse::LoggedIn { session },
        LoginOutcome::MfaRequired(challenge) => LoginResponse::MfaRequired { challenge },
    }))
}

async fn mfa(
    State(served): State<Served>,
    body: Result<Json<MfaRequest>, JsonRejection>,
) -> Answer<MfaResponse> {
    let Json(request) = body?;
    let connector = served.connector(&request.institution_id)?;
    let session = connector
        .answer_mfa(&request.challenge, &request.answer)
        .await?;
    Ok(Json(MfaResponse { session }))
}

async fn accounts(
    State(served): State<Served>,
    body: Result<Json<AccountsRequest>, JsonRejection>,
) -> Answer<AccountsResponse> {
    let Json(mut request) = body?;
    let connector = served.connector(&request.institution_id)?;
    let before = request.session.clone();
    let accounts = connector
        .list_accounts(&mut request.session, &request.context)
        .await?;
    let session = (request.session != before).then_some(request.session);
    Ok(Json(AccountsResponse { accounts, session }))
}

async fn movements(
    State(served): State<Served>,
    body: Result<Json<MovementsRequest>, JsonRejection>,
) -> Answer<MovementsResponse> {
    let Json(mut request) = body?;
    let connector = served.connector(&request.institution_id)?;
    let offset = match request.cursor.as_deref() {
        None => 0,
        Some(cursor) => cursor
            .parse::<usize>()
            .map_err(|_| refused(StatusCode::BAD_REQUEST, format!("bad cursor {cursor:?}")))?,
    };
    let before = request.session.clone();
    let all = connector
        .fetch_movements(
            &mut request.session,
            &request.account,
            request.window,
            &request.context,
        )
        .await?;
    let end = offset.saturating_add(served.page_size).min(all.len());
    let page = all.get(offset..end).unwrap_or_default().to_vec();
    let next_cursor = (end < all.len()).then(|| end.to_string());
    let session = (request.session != before).then_some(request.session);
    Ok(Json(MovementsResponse {
        movements: page,
        next_cursor,
        session,
    }))
}

/// The default number of movements in a page.
pub const DEFAULT_PAGE_SIZE: usize = 200;

/// Serves `registry`'s connectors over the protocol on `listener` until `shutdown` fires.
pub async fn serve(
    listener: tokio::net::TcpListener,
    registry: Registry,
    token: Secret,
    page_size: usize,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(registry, token, page_size))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}
