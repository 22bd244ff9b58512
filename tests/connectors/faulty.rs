//! A connector service that misbehaves on demand: the sandbox banks over the real protocol
//! router (`refresco::connectors::protocol::server::router`), behind a layer that can hang,
//! answer 500, answer garbage or cut the connection on a chosen call, hold a call, and be
//! stopped and started again on the same port.
//!
//! It runs in the test's process so a test can script it call by call; a stop aborts every
//! connection at once, as a process that dies would.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use refresco::config::{ConnectorConfig, Secret};
use refresco::connectors::protocol::server;
use refresco::connectors::{Registry, SandboxConfig};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// The calls a fault can hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    Manifest,
    Login,
    Mfa,
    Accounts,
    /// `POST /movements` without a cursor: an account's first page.
    FirstPage,
    /// `POST /movements` with a cursor: a later page.
    NextPage,
}

/// What the connector does instead of answering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answers nothing for far longer than the client waits.
    Hang,
    /// 500 with a body that is not the protocol's error.
    Status500,
    /// 200 with a body that is not JSON.
    NotJson,
    /// 200 with JSON that breaks the protocol's schema.
    WrongSchema,
    /// 200 announcing a body, then closes the connection halfway through it.
    DropMidBody,
    /// Never answers, and says it has the call ([`FaultyConnector::wait_held`]): the test
    /// stops or restarts the connector meanwhile.
    Hold,
    /// On a later page: answers from one movement before the cursor, so the last movement of
    /// the page before comes a second time (a connector whose cursors overlap).
    Overlap,
}

/// The faults any call can meet ([`Fault::Hold`] and [`Fault::Overlap`] are for particular
/// tests).
pub const FAULTS: [Fault; 5] = [
    Fault::Hang,
    Fault::Status500,
    Fault::NotJson,
    Fault::WrongSchema,
    Fault::DropMidBody,
];

/// How long [`Fault::Hang`] hangs: far beyond the 1 s timeout the tests configure.
const HANG: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Script {
    /// Faults still to inject, each on the next call of its kind.
    faults: VecDeque<(Call, Fault)>,
    /// Every call received, in order, with the fault it got.
    log: Vec<(Call, Option<Fault>)>,
}

#[derive(Clone, Default)]
struct Shared {
    script: Arc<Mutex<Script>>,
    /// Signalled when a held call arrives.
    held: Arc<Notify>,
}

/// A running (or stopped) misbehaving connector.
pub struct FaultyConnector {
    pub addr: SocketAddr,
    pub token: String,
    page_size: usize,
    shared: Shared,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl FaultyConnector {
    /// Starts serving both sandbox banks on a free port, `page_size` movements a page.
    pub async fn start(page_size: usize) -> FaultyConnector {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut connector = FaultyConnector {
            addr: listener.local_addr().unwrap(),
            token: format!("faulty-{:032x}", rand::random::<u128>()),
            page_size,
            shared: Shared::default(),
            server: None,
        };
        connector.serve(listener);
        connector
    }

    /// Its `[[connectors]]` table, each call timing out after 1 s.
    pub fn config(&self) -> ConnectorConfig {
        ConnectorConfig {
            url: format!("http://{}", self.addr),
            token: Some(Secret::new(self.token.clone())),
            timeout: Some(Duration::from_secs(1)),
        }
    }

    fn serve(&mut self, listener: TcpListener) {
        let router = server::router(
            Registry::sandbox(SandboxConfig::default()),
            Secret::new(self.token.clone()),
            self.page_size,
        )
        .layer(axum::middleware::from_fn_with_state(
            self.shared.clone(),
            misbehave,
        ));
        self.server = Some(tokio::spawn(async move {
            // Dropped with this task when it is aborted: every connection ends at once.
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let service = TowerToHyperService::new(router.clone());
                connections.spawn(async move {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }));
    }

    /// Stops at once, as a killed process: the port refuses connections, and every open
    /// connection (a held call's included) is closed.
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
            let _ = server.await;
        }
    }

    /// Serves again on the same port.
    pub async fn restart(&mut self) {
        self.stop().await;
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }

    /// The next call of kind `call` gets `fault`.
    pub fn inject(&self, call: Call, fault: Fault) {
        let mut script = self.shared.script.lock().unwrap();
        script.faults.push_back((call, fault));
    }

    /// Every call so far, with the fault each got.
    pub fn log(&self) -> Vec<(Call, Option<Fault>)> {
        self.shared.script.lock().unwrap().log.clone()
    }

    /// Waits (30 s at most) until a call scripted with [`Fault::Hold`] has arrived.
    pub async fn wait_held(&self) {
        tokio::time::timeout(Duration::from_secs(30), self.shared.held.notified())
            .await
            .expect("the held call never came");
    }
}

impl Drop for FaultyConnector {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// Which call a request is; its body is read for the cursor and put back.
async fn classify(request: Request) -> (Call, Request) {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 16 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let call = match parts.uri.path() {
        "/login" => Call::Login,
        "/mfa" => Call::Mfa,
        "/accounts" => Call::Accounts,
        "/movements" => {
            let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            if body["cursor"].is_null() {
                Call::FirstPage
            } else {
                Call::NextPage
            }
        }
        _ => Call::Manifest,
    };
    (call, Request::from_parts(parts, Body::from(bytes)))
}

async fn misbehave(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let (call, request) = classify(request).await;
    let fault = {
        let mut script = shared.script.lock().unwrap();
        let fault = script
            .faults
            .iter()
            .position(|(c, _)| *c == call)
            .and_then(|i| script.faults.remove(i))
            .map(|(_, f)| f);
        script.log.push((call, fault));
        fault
    };
    match fault {
        None => next.run(request).await,
        Some(Fault::Hang) => {
            tokio::time::sleep(HANG).await;
            next.run(request).await
        }
        Some(Fault::Status500) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
        }
        Some(Fault::NotJson) => (
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body>Service temporarily moved</body></html>",
        )
            .into_response(),
        Some(Fault::WrongSchema) => {
            // Every answer's fields with the wrong types, and `session` missing.
            let body = serde_json::json!({"accounts": "none", "movements": {"a": 1},
                "outcome": "maybe", "protocol": "one", "institutions": 7});
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        Some(Fault::DropMidBody) => {
            // The first half of a real answer, then an error: hyper closes the connection
            // short of the length it announced.
            let answer = next.run(request).await;
            let whole = axum::body::to_bytes(answer.into_body(), usize::MAX)
                .await
                .unwrap_or_default();
            let half = whole.slice(..whole.len() / 2);
            let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
                Ok(half),
                Err(std::io::Error::other("the connector died mid-answer")),
            ];
            let mut response = Response::new(Body::from_stream(futures_util::stream::iter(chunks)));
            response.headers_mut().insert(
                header::CONTENT_LENGTH,
                header::HeaderValue::from(whole.len().max(2)),
            );
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/json"),
            );
            response
        }
        Some(Fault::Hold) => {
            shared.held.notify_one();
            std::future::pending().await
        }
        Some(Fault::Overlap) => next.run(step_back(request).await).await,
    }
}

/// `request` (a later page of movements) with its cursor one movement earlier: this server's
/// cursors are offsets.
async fn step_back(request: Request) -> Request {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 16 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let mut json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let offset: usize = json["cursor"].as_str().unwrap().parse().unwrap();
    json["cursor"] = serde_json::json!((offset - 1).to_string());
    Request::from_parts(parts, Body::from(json.to_string()))
}
