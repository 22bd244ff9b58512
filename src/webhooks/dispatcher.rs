//! The dispatcher: claims due deliveries with a lease, signs each attempt afresh, POSTs the
//! event's exact JSON, records the attempt, and schedules a retry or ends the delivery.
//! `run_once` is one round (tests call it); `run` loops until cancelled.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use serde::Serialize;
use serde_json::value::RawValue;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::client::WebhookClients;
use super::recorder::AttemptRecorder;
use super::{signing, WebhookContext};
use crate::crypto::random_token;
use crate::domain::text::truncate;
use crate::domain::*;
use crate::store::{AfterAttempt, DueDelivery};

/// How much of a receiver's answer is read (the rest is dropped) and how much is kept.
const READ_LIMIT: usize = 64 * 1024;
const KEEP_LIMIT: usize = 1024;

/// An event as delivered. `data` is the stored JSON, unparsed: every attempt sends the same
/// bytes, with the fields in the order they were written.
#[derive(Serialize)]
struct EventBody<'a> {
    id: &'a str,
    object: &'static str,
    #[serde(rename = "type")]
    event_type: &'a str,
    mode: &'a str,
    created_at: String,
    data: &'a RawValue,
    /// Only on samples, so a real event's body is exactly Fintoc's.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    sample: bool,
}

/// The exact bytes of an event, the same for every attempt.
pub fn event_body(event: &Event) -> serde_json::Result<String> {
    serde_json::to_string(&EventBody {
        id: event.id.as_str(),
        object: "event",
        event_type: &event.event_type,
        mode: event.mode.as_str(),
        created_at: event.created_at.to_wire(),
        data: serde_json::from_str(&event.data)?,
        sample: event.sample,
    })
}

/// Delivers events to webhook endpoints.
pub struct Dispatcher {
    ctx: Arc<WebhookContext>,
    clients: WebhookClients,
    recorder: AttemptRecorder,
}

impl Dispatcher {
    /// A dispatcher over `ctx`.
    pub fn new(ctx: Arc<WebhookContext>) -> anyhow::Result<Self> {
        let timeout = Duration::from_millis(ctx.config.webhook_timeout_ms);
        Ok(Self {
            clients: WebhookClients::new(timeout)?,
            recorder: AttemptRecorder::start(ctx.store.clone()),
            ctx,
        })
    }

    fn lease_millis(&self) -> i64 {
        // Longer than any attempt, so a live attempt never loses its lease.
        i64::try_from(self.ctx.config.webhook_timeout_ms).unwrap_or(i64::MAX / 2) + 30_000
    }

    async fn claim(&self, limit: usize) -> anyhow::Result<Vec<DueDelivery>> {
        self.ctx
            .store
            .claim_deliveries(
                &random_token(24),
                i64::try_from(limit).unwrap_or(i64::MAX),
                i64::from(self.ctx.config.webhook_per_endpoint_concurrency),
                self.lease_millis(),
            )
            .await
    }

    /// One round: claims due deliveries and attempts them all; returns how each ended.
    pub async fn run_once(&self) -> anyhow::Result<Vec<AfterAttempt>> {
        let due = self.claim(self.ctx.config.webhook_concurrency).await?;
        let mut set = JoinSet::new();
        for delivery in due {
            let (ctx, clients, recorder) = (
                self.ctx.clone(),
                self.clients.clone(),
                self.recorder.clone(),
            );
            set.spawn(async move { attempt(&ctx, &clients, &recorder, delivery).await });
        }
        let mut outcomes = Vec::new();
        while let Some(joined) = set.join_next().await {
            outcomes.push(joined??);
        }
        Ok(outcomes)
    }

    /// Runs until `shutdown`; in-flight attempts finish (they are bounded by the timeout).
    pub async fn run(self, shutdown: CancellationToken) {
        let capacity = self.ctx.config.webhook_concurrency;
        let poll = Duration::from_millis(self.ctx.config.worker_poll_ms.max(10));
        let mut running = JoinSet::new();
        tracing::info!(capacity, "webhook dispatcher started");
        // New work (a wake-up or a poll) is claimed at once. When the loop only woke because
        // an attempt ended, it claims once a quarter of the slots is free: under load,
        // claiming the single freed slot would cost a write transaction per delivery.
        let batch = (capacity / 4).max(1);
        let mut new_work = true;
        loop {
            while running.try_join_next().is_some() {}
            let free = capacity.saturating_sub(running.len());
            if free > 0 && (new_work || free >= batch || running.is_empty()) {
                match self.claim(free).await {
                    Ok(due) => {
                        for delivery in due {
                            let (ctx, clients, recorder) = (
                                self.ctx.clone(),
                                self.clients.clone(),
                                self.recorder.clone(),
                            );
                            running.spawn(async move {
                                if let Err(e) = attempt(&ctx, &clients, &recorder, delivery).await {
                                    tracing::error!(
                                        error = format!("{e:#}"),
                                        "webhook attempt failed"
                                    );
                                }
                            });
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = format!("{e:#}"), "claiming deliveries failed")
                    }
                }
            }
            new_work = tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.ctx.wake.notified() => true,
                () = tokio::time::sleep(poll) => true,
                Some(_) = running.join_next(), if !running.is_empty() => false,
            };
        }
        while running.join_next().await.is_some() {}
        tracing::info!("webhook dispatcher stopped");
    }
}

/// What the receiver did.
struct Response {
    status: Option<u16>,
    body: Option<String>,
    retry_after: Option<Duration>,
    error: Option<String>,
}

/// Makes one attempt of `delivery` and records it, in the `webhook_attempt` span, which
/// continues the trace of the refresh the event is about (read first: an exported span's
/// parent is set before it starts).
async fn attempt(
    ctx: &WebhookContext,
    clients: &WebhookClients,
    recorder: &AttemptRecorder,
    delivery: DueDelivery,
) -> anyhow::Result<AfterAttempt> {
    let trace = crate::trace_context::of_event(&ctx.store, &delivery.event).await;
    let span = tracing::info_span!(
        "webhook_attempt",
        delivery_id = %delivery.id,
        endpoint_id = %delivery.endpoint_id,
        event_id = %delivery.event.id,
        trace_id = tracing::field::Empty,
    );
    let span = crate::trace_context::resumed(span, trace.as_ref());
    attempt_in(ctx, clients, recorder, delivery, trace)
        .instrument(span)
        .await
}

async fn attempt_in(
    ctx: &WebhookContext,
    clients: &WebhookClients,
    recorder: &AttemptRecorder,
    delivery: DueDelivery,
    trace: Option<crate::trace_context::TraceParent>,
) -> anyhow::Result<AfterAttempt> {
    let config = &ctx.config;
    let secret = ctx
        .keys
        .unseal(delivery.endpoint_id.as_str(), &delivery.sealed_secret)?;
    let secret = String::from_utf8(secret.to_vec())?;
    let body = event_body(&delivery.event)?;
    let started = Instant::now();
    let attempted_at = Timestamp::now();
    let allow_internal = config.webhook_allow_private
        || (delivery.mode == Mode::Test && config.webhook_allow_private_in_test);
    let response = match clients.for_url(&delivery.url, allow_internal) {
        Err(blocked) => Response {
            status: None,
            body: None,
            retry_after: None,
            error: Some(blocked),
        },
        Ok(client) => {
            // Signed now, for this attempt: a retry hours later still has a fresh timestamp.
            let t = attempted_at.millis() / 1000;
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            let signature = signing::fintoc_signature(&secret, t, body.as_bytes());
            let standard = signing::standard_signature(
                &secret,
                delivery.event.id.as_str(),
                t,
                body.as_bytes(),
            );
            for (name, value) in [
                ("fintoc-signature", signature),
                ("webhook-id", delivery.event.id.to_string()),
                ("webhook-timestamp", t.to_string()),
                ("webhook-signature", standard),
            ] {
                headers.insert(name, HeaderValue::from_str(&value)?);
            }
            if let Some(trace) = &trace {
                let value = HeaderValue::from_str(&trace.onward().header_value())?;
                headers.insert(crate::trace_context::HEADER, value);
            }
            send(client.post(&delivery.url).headers(headers).body(body)).await
        }
    };
    let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let succeeded = response.status.is_some_and(|s| (200..300).contains(&s));
    let next = decide(ctx, &delivery, &response, succeeded, attempted_at);
    ctx.store
        .metrics()
        .webhook_attempted(&next, started.elapsed());
    let record = Attempt {
        id: AttemptId::generate(),
        delivery_id: delivery.id.clone(),
        endpoint_id: delivery.endpoint_id.clone(),
        event_id: delivery.event.id.clone(),
        attempted_at,
        status_code: response.status,
        latency_ms,
        response_body: response.body,
        error: response.error,
        succeeded,
    };
    if !recorder.record(delivery, record, next).await? {
        tracing::warn!("delivery lease lost; attempt not recorded");
    }
    Ok(next)
}

/// Sends, reading at most `READ_LIMIT` bytes of the answer (huge or endless answers cannot
/// hold a slot beyond the timeout, nor fill memory).
async fn send(request: reqwest::RequestBuilder) -> Response {
    let mut response = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            let kind = if e.is_timeout() {
                "timeout"
            } else if e.is_connect() {
                "connect"
            } else {
                "request"
            };
            return Response {
                status: None,
                body: None,
                retry_after: None,
                error: Some(format!("{kind}: {}", truncate(&error_chain(&e), 300))),
            };
        }
    };
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let mut bytes = Vec::new();
    let mut error = None;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                bytes.extend_from_slice(&chunk[..chunk.len().min(READ_LIMIT - bytes.len())]);
                if bytes.len() >= READ_LIMIT {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                error = Some(format!("reading the answer: {e}"));
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(KEEP_LIMIT)]).into_owned();
    Response {
        status: Some(status),
        body: Some(text),
        retry_after,
        error,
    }
}

/// An error and its causes, so the attempt log says *why* (refused, blocked, timed out).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// What follows an attempt.
fn decide(
    ctx: &WebhookContext,
    delivery: &DueDelivery,
    response: &Response,
    succeeded: bool,
    now: Timestamp,
) -> AfterAttempt {
    let config = &ctx.config;
    if succeeded {
        return AfterAttempt::Delivered;
    }
    if response.status == Some(410) {
        return AfterAttempt::DisableEndpoint("gone");
    }
    let failing_for = delivery
        .failing_since
        .map_or(0, |since| now.millis() - since.millis());
    let disable_after =
        i64::try_from(config.webhook_disable_after_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    if failing_for >= disable_after {
        return AfterAttempt::DisableEndpoint("failing");
    }
    let retry = u32::try_from(delivery.attempts + 1).unwrap_or(u32::MAX);
    if retry > config.webhook_max_retries {
        return AfterAttempt::GiveUp;
    }
    let base = i64::try_from(config.webhook_retry_base_ms).unwrap_or(3000);
    let cap =
        i64::try_from(config.webhook_max_backoff_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let delay = match response.retry_after {
        // The receiver's wish, within bounds: no sooner than our base delay, no later than the cap.
        Some(wait) => i64::try_from(wait.as_millis())
            .unwrap_or(cap)
            .clamp(base.min(cap), cap),
        None => backoff_millis(retry, base, cap, rand::thread_rng().gen::<f64>()),
    };
    AfterAttempt::RetryAt(now.plus_millis(delay))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(data: &str) -> Event {
        Event {
            id: EventId::parse("evt_abc").unwrap(),
            organization_id: OrganizationId::parse("org_x").unwrap(),
            mode: Mode::Test,
            event_type: "link.credentials_changed".into(),
            link_id: None,
            data: data.into(),
            created_at: Timestamp::from_millis(1_638_909_653_513),
            sample: false,
        }
    }

    #[test]
    fn event_bodies_are_exact_json() {
        let body = event_body(&event(r#"{"id":"link_1","object":"link"}"#)).unwrap();
        assert_eq!(
            body,
            r#"{"id":"evt_abc","object":"event","type":"link.credentials_changed","mode":"test","created_at":"2021-12-07T20:40:53.513Z","data":{"id":"link_1","object":"link"}}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed["data"]["id"], "link_1");
    }

    #[test]
    fn event_data_is_sent_as_stored() {
        // Neither re-ordered nor re-formatted: the stored order is Fintoc's field order.
        let data = r#"{"status":"succeeded","amount":1.50,"id":"ri_1"}"#;
        let body = event_body(&event(data)).unwrap();
        assert!(body.ends_with(&format!(r#""data":{data}}}"#)), "{body}");
    }
}
