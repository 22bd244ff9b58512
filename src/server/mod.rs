//! The HTTP/1.1 serve loop: accepts connections up to `max_connections`, serves each with
//! hyper under the header and body read timeouts, and on shutdown stops accepting, lets
//! requests in flight finish and waits for their connections to close. Request heads hyper
//! refuses itself get Fintoc's error JSON too (`parse_errors`), and a connection closed while
//! its client is still sending is read to the end first (`linger`).
//!
//! It replaces `axum::serve`, which has no header read timeout and no connection cap: a client
//! that sent half a request line held its connection (and a file descriptor) for as long as it
//! liked.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tower::ServiceBuilder;
use tower_http::normalize_path::NormalizePathLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;

use crate::config::Config;

mod linger;
mod parse_errors;

/// What bounds the server's connections, taken from [`Config`].
#[derive(Clone, Copy, Debug)]
pub struct ServerLimits {
    /// Time a connection has to send a whole request head (also the keep-alive idle time).
    pub header_read_timeout: Duration,
    /// Longest silence while a request body is read.
    pub body_read_timeout: Duration,
    /// Connections served at the same time.
    pub max_connections: usize,
}

impl ServerLimits {
    /// The limits a configuration sets.
    pub fn from_config(config: &Config) -> Self {
        Self {
            header_read_timeout: Duration::from_secs(config.header_read_timeout_secs),
            body_read_timeout: Duration::from_secs(config.body_read_timeout_secs),
            max_connections: config.max_connections,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` fires, then drains (see the module docs).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    shutdown: CancellationToken,
) {
    // Trailing slashes are trimmed before routing rather than redirected: the Python client
    // treats any 3xx as an error. The body timeout wraps each request body, so a silent body
    // fails the read that waits for it (extractors turn that into a 408).
    let service = ServiceBuilder::new()
        .layer(RequestBodyTimeoutLayer::new(limits.body_read_timeout))
        .layer(NormalizePathLayer::trim_trailing_slash())
        .service(router);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let slots = std::sync::Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    loop {
        // At the cap, stop accepting: new connections wait in the kernel's listen backlog
        // (their clients see a slow connect, not a reset) until a connection closes, which the
        // header read timeout guarantees for clients that send nothing.
        let slot: OwnedSemaphorePermit = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break, // never closed; leaving is the only sane answer if it were
            },
            () = shutdown.cancelled() => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_failed(e, &shutdown).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        serve_connection(&builder, &graceful, service.clone(), stream, slot);
    }
    drop(listener);
    tracing::debug!(
        connections = graceful.count(),
        "not accepting; waiting for open connections"
    );
    graceful.shutdown().await;
}

fn serve_connection<S>(
    builder: &http1::Builder,
    graceful: &GracefulShutdown,
    service: S,
    stream: TcpStream,
    slot: OwnedSemaphorePermit,
) where
    S: tower::Service<
            axum::http::Request<hyper::body::Incoming>,
            Response = axum::response::Response,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let io = TokioIo::new(parse_errors::JsonParseErrors::new(linger::Lingering::new(
        stream,
    )));
    let connection = builder.serve_connection(io, TowerToHyperService::new(service));
    let connection = graceful.watch(connection);
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            // Timeouts, resets and malformed requests: the client's business, not an error here.
            tracing::debug!(error = %e, "connection ended with an error");
        }
        drop(slot);
    });
}

/// Errors from `accept` are about one connection (reset before it was taken) or about the
/// process (out of file descriptors). The latter would spin the loop: wait a little first.
async fn accept_failed(e: std::io::Error, shutdown: &CancellationToken) {
    use std::io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted
    ) {
        return;
    }
    tracing::warn!(error = %e, "accepting a connection failed");
    tokio::select! {
        () = tokio::time::sleep(Duration::from_millis(100)) => {}
        () = shutdown.cancelled() => {}
    }
}
