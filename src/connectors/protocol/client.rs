//! The engine's side of the protocol: a [`Connector`] for each institution a connector
//! service's manifest announces, calling that service over HTTP.
//!
//! Every failure to get a usable answer becomes a [`ConnectorError`], never a panic: a refused
//! connection, a timeout or a connection dropped mid-answer is `Unavailable` (trying later may
//! work), a 5xx without a protocol error is `Unavailable`, and an answer that is not JSON or
//! breaks the schema is `Other` (a bug in the connector). Requests and answers are never
//! logged: they carry credentials and sessions.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{
    AccountsRequest, AccountsResponse, ErrorResponse, LoginRequest, LoginResponse, Manifest,
    MfaRequest, MfaResponse, MovementsRequest, MovementsResponse, VERSION, VERSION_HEADER,
};
use crate::config::Secret;
use crate::connectors::{
    BankAccount, BankMovement, BankSession, Connector, ConnectorError, Credentials, DateWindow,
    FetchContext, Institution, LoginOutcome, MfaAnswer, MfaChallenge,
};

/// Largest answer read from a connector; a larger one is refused as broken.
const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// Most pages of one account's movements; a connector whose cursors never end is broken.
const MAX_PAGES: usize = 10_000;

/// One connector service: where it is and how to call it.
pub struct ConnectorService {
    base: url::Url,
    token: Secret,
    http: reqwest::Client,
}

impl ConnectorService {
    /// A service at `url` (its paths are relative to it), called with `token`, each call
    /// failing after `timeout`.
    pub fn new(url: &str, token: Secret, timeout: Duration) -> anyhow::Result<Self> {
        let mut base = url::Url::parse(url)
            .map_err(|e| anyhow::anyhow!("connector URL {url:?} is not a URL: {e}"))?;
        if !matches!(base.scheme(), "http" | "https") {
            anyhow::bail!("connector URL {url:?} must start with http:// or https://");
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()?;
        Ok(Self { base, token, http })
    }

    /// The service's URL, for logs and messages.
    pub fn url(&self) -> &str {
        self.base.as_str()
    }

    /// Reads and checks the manifest.
    pub async fn manifest(&self) -> Result<Manifest, ConnectorError> {
        let request = self.http.get(self.endpoint("manifest")?);
        let manifest: Manifest = self.send(request, None).await?;
        if manifest.protocol != VERSION {
            return Err(ConnectorError::Other(format!(
                "the connector speaks protocol {}, this server {VERSION}",
                manifest.protocol
            )));
        }
        Ok(manifest)
    }

    /// A connector for each institution of `manifest`, sharing this service.
    pub fn connectors(self: &Arc<Self>, manifest: &Manifest) -> Vec<Arc<dyn Connector>> {
        manifest
            .institutions
            .iter()
            .map(|institution| {
                Arc::new(RemoteConnector {
                    institution: institution.clone(),
                    service: self.clone(),
                }) as Arc<dyn Connector>
            })
            .collect()
    }

    fn endpoint(&self, path: &str) -> Result<url::Url, ConnectorError> {
        self.base
            .join(path)
            .map_err(|e| ConnectorError::Other(format!("connector URL: {e}")))
    }

    async fn post<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &str,
        body: &Req,
        account: Option<&str>,
    ) -> Result<Resp, ConnectorError> {
        let request = self.http.post(self.endpoint(path)?).json(body);
        self.send(request, account).await
    }

    async fn send<Resp: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        account: Option<&str>,
    ) -> Result<Resp, ConnectorError> {
        let mut request = request
            .bearer_auth(self.token.expose())
            .header(VERSION_HEADER, VERSION.to_string());
        // The refresh's trace continues at the connector, as a call within it.
        if let Some(trace) = crate::trace_context::outgoing() {
            request = request.header(crate::trace_context::HEADER, trace.header_value());
        }
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        let body = read_body(response)
            .await
            .map_err(|e| self.unreachable(&e))?;
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|e| {
                ConnectorError::Other(format!(
                    "the connector at {} answered {status} with a body that breaks the \
                     protocol: {e}",
                    self.url()
                ))
            });
        }
        match serde_json::from_slice::<ErrorResponse>(&body) {
            Ok(answer) => Err(answer.error.into_error(account)),
            Err(_) if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS => {
                tracing::warn!(url = %self.url(), %status, "connector answered an error without a protocol error body");
                Err(ConnectorError::Unavailable)
            }
            Err(e) => Err(ConnectorError::Other(format!(
                "the connector at {} answered {status} without a protocol error: {e}",
                self.url()
            ))),
        }
    }

    fn unreachable(&self, error: &reqwest::Error) -> ConnectorError {
        // The error's text names the URL and the cause (refused, timed out, closed), never
        // the request's body.
        tracing::warn!(url = %self.url(), error = %error, "connector unreachable");
        ConnectorError::Unavailable
    }
}

/// The body, refusing one over [`MAX_ANSWER_BYTES`].
async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            // Reported as a broken answer: an empty body breaks the schema.
            return Ok(Vec::new());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// One institution served by a connector service.
pub struct RemoteConnector {
    institution: Institution,
    service: Arc<ConnectorService>,
}

impl RemoteConnector {
    fn id(&self) -> String {
        self.institution.id.to_string()
    }
}

#[async_trait]
impl Connector for RemoteConnector {
    fn institution(&self) -> &Institution {
        &self.institution
    }

    async fn login(&self, creds: &Credentials) -> Result<LoginOutcome, ConnectorError> {
        let request = LoginRequest {
            institution_id: self.id(),
            credentials: creds.clone(),
        };
        let answer: LoginResponse = self.service.post("login", &request, None).await?;
        Ok(match answer {
            LoginResponse::LoggedIn { session } => LoginOutcome::LoggedIn(session),
            LoginResponse::MfaRequired { challenge } => LoginOutcome::MfaRequired(challenge),
        })
    }

    async fn answer_mfa(
        &self,
        challenge: &MfaChallenge,
        answer: &MfaAnswer,
    ) -> Result<BankSession, ConnectorError> {
        let request = MfaRequest {
            institution_id: self.id(),
            challenge: challenge.clone(),
            answer: answer.clone(),
        };
        let answer: MfaResponse = self.service.post("mfa", &request, None).await?;
        Ok(answer.session)
    }

    async fn list_accounts(
        &self,
        session: &mut BankSession,
        ctx: &FetchContext,
    ) -> Result<Vec<BankAccount>, ConnectorError> {
        let request = AccountsRequest {
            institution_id: self.id(),
            session: session.clone(),
            context: *ctx,
        };
        let answer: AccountsResponse = self.service.post("accounts", &request, None).await?;
        if let Some(renewed) = answer.session {
            *session = renewed;
        }
        Ok(answer.accounts)
    }

    async fn fetch_movements(
        &self,
        session: &mut BankSession,
        account: &BankAccount,
        window: DateWindow,
        ctx: &FetchContext,
    ) -> Result<Vec<BankMovement>, ConnectorError> {
        let mut movements = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let request = MovementsRequest {
                institution_id: self.id(),
                session: session.clone(),
                account: account.clone(),
                window,
                context: *ctx,
                cursor: cursor.clone(),
            };
            let page: MovementsResponse = self
                .service
                .post("movements", &request, Some(&account.bank_id))
                .await?;
            if let Some(renewed) = page.session {
                *session = renewed;
            }
            movements.extend(page.movements);
            match page.next_cursor {
                None => return Ok(movements),
                Some(next) if Some(&next) == cursor.as_ref() => {
                    return Err(ConnectorError::Other(format!(
                        "the connector at {} gave the same cursor twice",
                        self.service.url()
                    )))
                }
                Some(next) => cursor = Some(next),
            }
        }
        Err(ConnectorError::Other(format!(
            "the connector at {} gave more than {MAX_PAGES} pages of movements",
            self.service.url()
        )))
    }
}
