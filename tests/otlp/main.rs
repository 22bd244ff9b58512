//! Spans exported over OTLP/HTTP to a collector in the test (`collector`): a refresh created
//! with a `traceparent` arrives as one trace, the client's, from the request through the job
//! to the bank calls and the webhook delivery, and no secret is in any span.
//!
//! The subscriber is global, so this binary of its own installs the exporter's layer once
//! (from a configuration naming the collector, as `serve` does) for every test in it.
// A test that meets an unexpected error should fail on the spot, naming where.
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

mod collector;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::common::v1::any_value::Value as Attribute;
use opentelemetry_proto::tonic::trace::v1::Span;
use rand::RngCore;
use refresco::telemetry::otlp::Exporting;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::collector::Collector;
use crate::common::receiver::Receiver;
use crate::common::*;

/// The process's exporter, to the shared collector, installed with the logs exactly as
/// `serve` installs it.
fn exporting() -> &'static Exporting {
    static EXPORTING: OnceLock<Exporting> = OnceLock::new();
    EXPORTING.get_or_init(|| {
        let config = refresco::Config {
            otlp_endpoint: Some(Collector::shared().url.clone()),
            ..refresco::Config::default()
        };
        refresco::telemetry::init_server(&config).expect("export is configured")
    })
}

/// Random lowercase hex of `bytes` bytes (never all zeros).
fn random_hex(bytes: usize) -> String {
    let mut id = vec![0u8; bytes];
    while id.iter().all(|b| *b == 0) {
        rand::thread_rng().fill_bytes(&mut id);
    }
    hex::encode(id)
}

/// A string attribute of `span`.
fn attribute(span: &Span, key: &str) -> Option<String> {
    let value = span.attributes.iter().find(|kv| kv.key == key)?;
    match value.value.as_ref()?.value.as_ref()? {
        Attribute::StringValue(text) => Some(text.clone()),
        other => Some(format!("{other:?}")),
    }
}

/// Whether `ancestor` is `span`'s parent, or its parent's, and so on, within `trace`.
fn descends_from(trace: &[Span], span: &Span, ancestor: &[u8]) -> bool {
    let mut parent = span.parent_span_id.clone();
    for _ in 0..trace.len() + 1 {
        if parent == ancestor {
            return true;
        }
        match trace.iter().find(|s| s.span_id == parent) {
            Some(next) => parent = next.parent_span_id.clone(),
            None => return false,
        }
    }
    false
}

/// The spans of `trace_id` once those named `names` have all arrived (flushing meanwhile).
async fn wait_for_trace(trace_id: &str, names: &[&str]) -> Vec<Span> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        tokio::task::spawn_blocking(|| exporting().flush())
            .await
            .unwrap();
        let trace: Vec<Span> = Collector::shared()
            .spans()
            .into_iter()
            .filter(|s| hex::encode(&s.trace_id) == trace_id)
            .collect();
        if names.iter().all(|n| trace.iter().any(|s| s.name == *n)) {
            return trace;
        }
        let seen: Vec<&str> = trace.iter().map(|s| s.name.as_str()).collect();
        assert!(Instant::now() < deadline, "the trace holds only {seen:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn a_refresh_is_exported_as_the_clients_trace(backend: Backend) {
    let collector = Collector::shared();
    exporting();
    let Some(app) = TestApp::start_with(backend, |c| {
        c.otlp_endpoint = Some(collector.url.clone());
        c.worker_poll_ms = 20;
    })
    .await
    else {
        return;
    };
    let (_, token) = app.create_link("41614850-3").await;
    let receiver = Receiver::start().await;
    let response = app
        .request(
            Method::POST,
            "/v1/webhook_endpoints",
            Some(&app.keys.secret_key),
            Some(json!({"url": receiver.url, "enabled_events": ["link.refresh_intent.succeeded"]})),
        )
        .await;
    let (status, endpoint) = into_json(response).await;
    assert_eq!(status, StatusCode::CREATED, "{endpoint}");

    // Ids of this test's own: the tests of both backends export to the one collector.
    let (trace_id, client_span) = (random_hex(16), random_hex(8));
    let response = app
        .client
        .post(format!("{}/v1/refresh_intents", app.base))
        .header("Authorization", &app.keys.secret_key)
        .header("traceparent", format!("00-{trace_id}-{client_span}-01"))
        .json(&json!({"link_token": token}))
        .send()
        .await
        .unwrap();
    let (status, intent) = into_json(response).await;
    assert_eq!(status, StatusCode::CREATED, "{intent}");
    let intent_id = intent["id"].as_str().unwrap().to_owned();
    let intent = wait_final(&app, &token, &intent_id).await;
    assert_eq!(intent["status"], "succeeded", "{intent}");
    let delivered = receiver.wait_for(|r| !r.is_empty()).await;

    let trace = wait_for_trace(
        &trace_id,
        &["request", "run_job", "connector_call", "webhook_attempt"],
    )
    .await;
    let named = |name: &'static str| trace.iter().filter(move |s| s.name == name);

    // The request's span hangs under the client's.
    let request = named("request")
        .find(|s| attribute(s, "path").as_deref() == Some("/v1/refresh_intents"))
        .expect("the create's request span");
    assert_eq!(hex::encode(&request.parent_span_id), client_span);
    assert_eq!(attribute(request, "method").as_deref(), Some("POST"));

    // The job, run by the worker from what the database kept, descends from the request.
    let run = named("run_job")
        .find(|s| attribute(s, "intent_id").as_deref() == Some(intent_id.as_str()))
        .expect("the refresh's run_job span");
    assert!(descends_from(&trace, run, &request.span_id), "{trace:#?}");
    assert_eq!(
        attribute(run, "trace_id").as_deref(),
        Some(trace_id.as_str())
    );

    // Its calls to the bank, within the run.
    let calls: Vec<&Span> = named("connector_call").collect();
    let operations: Vec<String> = calls
        .iter()
        .filter_map(|s| attribute(s, "operation"))
        .collect();
    assert!(
        operations.iter().any(|o| o == "list_accounts"),
        "{operations:?}"
    );
    for call in &calls {
        assert!(descends_from(&trace, call, &run.span_id), "{call:#?}");
        assert_eq!(
            attribute(call, "institution").as_deref(),
            Some("cl_banco_sandbox")
        );
    }

    // The webhook delivery of its event, in the same trace; the receiver was told its span.
    let attempt = named("webhook_attempt").next().unwrap();
    assert!(
        descends_from(&trace, attempt, &request.span_id),
        "{attempt:#?}"
    );
    let sent = delivered[0].headers["traceparent"].to_str().unwrap();
    assert_eq!(
        sent,
        format!("00-{trace_id}-{}-01", hex::encode(&attempt.span_id))
    );

    assert!(collector.service_names().iter().all(|n| n == "refresco"));
    // No secret in any span, attribute or event of anything exported so far.
    let exported = collector.dump();
    for secret in [
        app.keys.secret_key.as_str(),
        app.keys.public_key.as_str(),
        token.as_str(),
        endpoint["secret"].as_str().unwrap(),
        "jonsnow",
        "link_token=",
    ] {
        assert!(!exported.contains(secret), "{secret:?} was exported");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_refresh_is_exported_as_the_clients_trace() {
    a_refresh_is_exported_as_the_clients_trace(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_refresh_is_exported_as_the_clients_trace() {
    a_refresh_is_exported_as_the_clients_trace(Backend::Postgres).await;
}
