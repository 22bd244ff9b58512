//! A webhook receiver for tests: records every delivery, answers as scripted, and verifies
//! both signature schemes with its own HMAC code written from the specifications (not with
//! Refresco's signing module, so a shared mistake cannot hide).
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// How the receiver answers one delivery.
#[derive(Clone, Debug)]
pub enum Reply {
    /// This status, empty body.
    Status(u16),
    /// This status with `Retry-After: <secs>`.
    RetryAfter(u16, u64),
    /// Wait, then 200.
    Slow(Duration),
    /// 200 with a body of this many bytes.
    Huge(usize),
}

/// One delivery as received.
#[derive(Clone, Debug)]
pub struct Received {
    /// When it arrived.
    pub at: Instant,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its exact body.
    pub body: String,
}

impl Received {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("deliveries are JSON")
    }
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    script: VecDeque<Reply>,
    default: Option<Reply>,
}

/// A running receiver on 127.0.0.1:0.
#[derive(Clone)]
pub struct Receiver {
    /// Its URL.
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = {
        let mut inner = inner.lock().unwrap();
        inner.received.push(Received {
            at: Instant::now(),
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        inner
            .script
            .pop_front()
            .or_else(|| inner.default.clone())
            .unwrap_or(Reply::Status(200))
    };
    match reply {
        Reply::Status(code) => StatusCode::from_u16(code).unwrap().into_response(),
        Reply::RetryAfter(code, secs) => (
            StatusCode::from_u16(code).unwrap(),
            [("retry-after", secs.to_string())],
        )
            .into_response(),
        Reply::Slow(wait) => {
            tokio::time::sleep(wait).await;
            StatusCode::OK.into_response()
        }
        Reply::Huge(size) => (StatusCode::OK, "x".repeat(size)).into_response(),
    }
}

impl Receiver {
    /// Starts a receiver answering 200 unless scripted otherwise.
    pub async fn start() -> Receiver {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, inner }
    }

    /// Answers the next deliveries with these replies, in order.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.inner.lock().unwrap().script.extend(replies);
    }

    /// Answers every unscripted delivery with `reply` (instead of 200).
    pub fn default_reply(&self, reply: Reply) {
        self.inner.lock().unwrap().default = Some(reply);
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// Waits until `done(received)` holds (60 s at most).
    pub async fn wait_for(&self, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let received = self.received();
            if done(&received) {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "receiver never got what was expected: {} deliveries",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// Verifies a delivery's `Fintoc-Signature` and Standard Webhooks headers against `secret`;
/// panics with the reason on a mismatch. Returns the signed timestamp.
pub fn verify(delivery: &Received, secret: &str) -> i64 {
    let header = delivery.headers["fintoc-signature"].to_str().unwrap();
    let parts: Vec<&str> = header.split(',').collect();
    assert_eq!(parts.len(), 2, "exactly t and v1: {header}");
    let t = parts[0].strip_prefix("t=").expect("t first");
    let v1 = parts[1].strip_prefix("v1=").expect("then v1");
    let expected = hex::encode(hmac_sha256(
        secret.as_bytes(),
        format!("{t}.{}", delivery.body).as_bytes(),
    ));
    assert_eq!(v1, expected, "Fintoc signature");
    let now = chrono::Utc::now().timestamp();
    let t: i64 = t.parse().unwrap();
    assert!((now - t).abs() <= 300, "signed at delivery time");

    let id = delivery.headers["webhook-id"].to_str().unwrap();
    let ts = delivery.headers["webhook-timestamp"].to_str().unwrap();
    assert_eq!(ts, t.to_string(), "one timestamp for both schemes");
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let expected = base64::engine::general_purpose::STANDARD.encode(hmac_sha256(
        &key,
        format!("{id}.{ts}.{}", delivery.body).as_bytes(),
    ));
    let signature = delivery.headers["webhook-signature"].to_str().unwrap();
    assert_eq!(
        signature,
        format!("v1,{expected}"),
        "Standard Webhooks signature"
    );
    assert_eq!(id, delivery.json()["id"], "webhook-id is the event id");
    t
}
