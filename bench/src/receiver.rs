//! The webhook receiver of s2 and s5: an axum server on 127.0.0.1:0 in this process that answers
//! 200, verifies the `Fintoc-Signature` of every delivery, counts deliveries and duplicates, and
//! tells s2's waiting clients when the link-level event of their refresh intent arrived.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use refresco::webhooks::signing;

/// What s2 learns from a link-level event.
#[derive(Clone, Debug)]
pub struct Arrival {
    /// The intent's final status.
    pub status: String,
    /// Its `new_movements`.
    pub new_movements: i64,
}

enum Slot {
    Arrived(Arrival),
    Waiting(oneshot::Sender<Arrival>),
}

#[derive(Default)]
struct Inner {
    secret: OnceLock<String>,
    received: AtomicU64,
    bad_signatures: AtomicU64,
    duplicates: AtomicU64,
    seen: Mutex<HashSet<String>>,
    slots: Mutex<HashMap<String, Slot>>,
}

/// A running receiver.
pub struct Receiver {
    /// Where to deliver (`http://127.0.0.1:<port>/hook`).
    pub url: String,
    inner: Arc<Inner>,
    shutdown: CancellationToken,
}

#[derive(Deserialize)]
struct EventIn {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    data: DataIn,
}

#[derive(Deserialize)]
struct DataIn {
    id: Option<String>,
    status: Option<String>,
    new_movements: Option<i64>,
}

async fn receive(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    inner.received.fetch_add(1, Ordering::Relaxed);
    if !signature_ok(&inner, &headers, &body) {
        inner.bad_signatures.fetch_add(1, Ordering::Relaxed);
    }
    let Ok(event) = serde_json::from_slice::<EventIn>(&body) else {
        inner.bad_signatures.fetch_add(1, Ordering::Relaxed);
        return StatusCode::OK;
    };
    if !inner.seen.lock().expect("lock").insert(event.id) {
        inner.duplicates.fetch_add(1, Ordering::Relaxed);
    }
    if event.event_type.starts_with("link.refresh_intent.") {
        if let Some(intent) = event.data.id {
            let arrival = Arrival {
                status: event.data.status.unwrap_or_default(),
                new_movements: event.data.new_movements.unwrap_or(-1),
            };
            let mut slots = inner.slots.lock().expect("lock");
            match slots.remove(&intent) {
                Some(Slot::Waiting(tx)) => {
                    let _ = tx.send(arrival);
                }
                _ => {
                    slots.insert(intent, Slot::Arrived(arrival));
                }
            }
        }
    }
    StatusCode::OK
}

/// Checks `Fintoc-Signature: t=…,v1=…` against the endpoint's secret.
fn signature_ok(inner: &Inner, headers: &HeaderMap, body: &[u8]) -> bool {
    let Some(secret) = inner.secret.get() else {
        return false;
    };
    let Some(header) = headers
        .get("fintoc-signature")
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(t) = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split(',').next())
        .and_then(|t| t.parse::<i64>().ok())
    else {
        return false;
    };
    signing::fintoc_signature(secret, t, body) == header
}

impl Receiver {
    /// Starts a receiver on 127.0.0.1:0.
    pub async fn start() -> anyhow::Result<Self> {
        let inner = Arc::new(Inner::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        let shutdown = CancellationToken::new();
        let router = Router::new()
            .route("/hook", post(receive))
            .with_state(inner.clone());
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
        });
        Ok(Self {
            url,
            inner,
            shutdown,
        })
    }

    /// The endpoint's secret, known once the endpoint is created.
    pub fn set_secret(&self, secret: String) {
        let _ = self.inner.secret.set(secret);
    }

    /// Waits for the link-level event of `intent_id` (it may already have arrived).
    pub async fn wait_for(&self, intent_id: &str) -> Option<Arrival> {
        let rx = {
            let mut slots = self.inner.slots.lock().expect("lock");
            match slots.remove(intent_id) {
                Some(Slot::Arrived(arrival)) => return Some(arrival),
                _ => {
                    let (tx, rx) = oneshot::channel();
                    slots.insert(intent_id.to_owned(), Slot::Waiting(tx));
                    rx
                }
            }
        };
        rx.await.ok()
    }

    /// Deliveries received (duplicates included).
    pub fn received(&self) -> u64 {
        self.inner.received.load(Ordering::Relaxed)
    }

    /// Deliveries whose signature did not verify (or whose body was not an event).
    pub fn bad_signatures(&self) -> u64 {
        self.inner.bad_signatures.load(Ordering::Relaxed)
    }

    /// Deliveries of an event already received (webhooks are at least once).
    pub fn duplicates(&self) -> u64 {
        self.inner.duplicates.load(Ordering::Relaxed)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
