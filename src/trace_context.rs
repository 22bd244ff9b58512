//! W3C trace context (`traceparent`): accepted on the API, kept with a refresh intent so the
//! worker that runs it (maybe in another process) continues the same trace, and sent onwards
//! to connector services and webhook receivers.
//!
//! Within one process the current context travels in a task-local ([`current`], set by
//! [`scope`]), so the code between the edges needs no parameter for it. Between the API and
//! the worker it travels in the database (`refresh_trace_contexts`, written only for requests
//! that carried a `traceparent`). Log lines carry the trace id as a span field
//! (`trace_id`), next to the request's method and path; never the query string, which may hold
//! a link token.
//!
//! That task-local is the one source of the trace a piece of work belongs to, exported or
//! not. When spans are exported over OTLP (`crate::telemetry`), the spans where a context
//! enters (a request, a refresh's run, a webhook attempt) take it as their parent
//! ([`TraceParent::adopt`]), and what is sent onwards names the current exported span
//! ([`TraceParent::onward`]), so a connector's or receiver's spans hang under ours. Without
//! export, the same code sends a fresh span id. Parsing and writing the header are
//! OpenTelemetry's propagator's.

use std::collections::HashMap;
use std::future::Future;

use axum::extract::Request;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use rand::RngCore;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::domain::{Event, RefreshIntentId};
use crate::store::Store;

/// The header's name.
pub const HEADER: &str = "traceparent";

/// A valid `traceparent`: a trace id, the id of the span it names and its flags, as
/// OpenTelemetry's [`SpanContext`] (which the exported spans' parents are made of).
///
/// Boxed: a refresh carries one through its whole run, and 10,000 refreshes wait at their
/// banks at once (BENCHMARKS.md, S3), so it takes a pointer's room in each waiting future.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceParent(Box<SpanContext>);

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl TraceParent {
    /// Parses a header value; `None` when it is not a valid context (which is then ignored,
    /// as the specification asks, and a trace is not started for it).
    ///
    /// OpenTelemetry's propagator reads it (versions, field counts, zero ids, flags); it takes
    /// hex of any length up to a field's size and with a sign, so the fields' exact shape (two,
    /// 32, 16 and two lowercase hex digits) is checked before.
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        let mut fields = value.split('-');
        for len in [2, 32, 16, 2] {
            if !is_hex(fields.next()?, len) {
                return None;
            }
        }
        let carrier = HashMap::from([(HEADER.to_owned(), value.to_owned())]);
        let context = TraceContextPropagator::new().extract(&carrier);
        let span = context.span().span_context().clone();
        span.is_valid().then(|| Self(Box::new(span)))
    }

    /// The context of `headers`, if they carry a valid one.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        Self::parse(headers.get(HEADER)?.to_str().ok()?)
    }

    /// The trace's id (32 hex digits).
    pub fn trace_id(&self) -> String {
        self.0.trace_id().to_string()
    }

    /// A context for a call made within this one: the same trace, a new span id.
    pub fn child(&self) -> Self {
        let mut span = [0u8; 8];
        while span.iter().all(|b| *b == 0) {
            rand::thread_rng().fill_bytes(&mut span);
        }
        Self(Box::new(SpanContext::new(
            self.0.trace_id(),
            SpanId::from_bytes(span),
            self.0.trace_flags(),
            true,
            self.0.trace_state().clone(),
        )))
    }

    /// The header value, version 00.
    pub fn header_value(&self) -> String {
        let context = opentelemetry::Context::new().with_remote_span_context((*self.0).clone());
        let mut carrier = HashMap::new();
        TraceContextPropagator::new().inject_context(&context, &mut carrier);
        carrier.remove(HEADER).unwrap_or_default()
    }

    /// Makes `span` (not entered yet) a child of this context in the exported spans. Without
    /// the export layer (OTLP off) it does nothing.
    pub fn adopt(&self, span: &tracing::Span) {
        let parent = opentelemetry::Context::new().with_remote_span_context((*self.0).clone());
        // Refused only without the layer, or for a span already entered: the export loses
        // the link then, not the request.
        let _ = span.set_parent(parent);
    }

    /// The context to send to a call made now within this one: when spans are exported, the
    /// current span's (so the callee's spans hang under it); otherwise a new span id.
    pub fn onward(&self) -> Self {
        let exported = tracing::Span::current()
            .context()
            .span()
            .span_context()
            .clone();
        if exported.is_valid() && exported.trace_id() == self.0.trace_id() {
            Self(Box::new(exported))
        } else {
            self.child()
        }
    }
}

tokio::task_local! {
    static CURRENT: TraceParent;
}

/// The context the current task runs in, if any.
pub fn current() -> Option<TraceParent> {
    CURRENT.try_with(Clone::clone).ok()
}

/// The context to send with a call made now (to a connector service): the current one, with
/// the span id of the call ([`TraceParent::onward`]).
pub fn outgoing() -> Option<TraceParent> {
    current().map(|context| context.onward())
}

/// Runs `future` in `context` (as it is when `None`).
pub async fn scope<F: Future>(context: Option<TraceParent>, future: F) -> F::Output {
    match context {
        Some(context) => CURRENT.scope(context, future).await,
        None => future.await,
    }
}

/// Middleware: a request's handler runs in the context its `traceparent` names.
pub async fn accept(request: Request, next: Next) -> Response {
    let context = TraceParent::from_headers(request.headers());
    scope(context, next.run(request)).await
}

/// The span of one request (for `TraceLayer`): method, path (not the query string: it may
/// hold a link token) and the trace id when the request carried one; exported as a child of
/// the span the `traceparent` names.
pub fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let context = TraceParent::from_headers(request.headers());
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        trace_id = context.as_ref().map(TraceParent::trace_id),
    );
    if let Some(context) = &context {
        context.adopt(&span);
    }
    span
}

/// The span a piece of work resumed in `context` runs in: `span`, with the trace id recorded
/// (its field `trace_id`) and, when exported, `context`'s span as its parent. Call it before
/// the span is entered: an exported span's parent is fixed when it starts.
pub fn resumed(span: tracing::Span, context: Option<&TraceParent>) -> tracing::Span {
    if let Some(context) = context {
        span.record("trace_id", context.trace_id());
        context.adopt(&span);
    }
    span
}

/// Keeps the current context for the refresh intent about to be created, so its job resumes
/// it (as a child of the current span, when spans are exported). Best effort: a failure is
/// logged, and the refresh goes on untraced.
pub async fn remember(store: &Store, intent: &RefreshIntentId) {
    let Some(context) = outgoing() else { return };
    if let Err(e) = store
        .remember_trace_context(intent.as_str(), &context.header_value())
        .await
    {
        tracing::warn!(error = format!("{e:#}"), "keeping the trace context failed");
    }
}

/// The context a refresh intent was created in, if it was traced.
pub async fn resume(store: &Store, intent: &RefreshIntentId) -> Option<TraceParent> {
    match store.trace_context(intent.as_str()).await {
        Ok(stored) => stored.as_deref().and_then(TraceParent::parse),
        Err(e) => {
            // Read before the work's span exists: the intent is named here.
            tracing::warn!(
                intent_id = %intent,
                error = format!("{e:#}"),
                "reading the trace context failed"
            );
            None
        }
    }
}

/// The context of the refresh an event is about (its data names the intent), if it was traced.
pub async fn of_event(store: &Store, event: &Event) -> Option<TraceParent> {
    #[derive(serde::Deserialize)]
    struct About {
        id: Option<String>,
        refresh_intent_id: Option<String>,
    }
    let about: About = serde_json::from_str(&event.data).ok()?;
    let intent = about
        .refresh_intent_id
        .or(about.id.filter(|id| id.starts_with("ri_")))?;
    let intent = RefreshIntentId::parse(&intent)?;
    resume(store, &intent).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn valid_contexts_parse_and_children_keep_the_trace() {
        let context = TraceParent::parse(VALID).unwrap();
        assert_eq!(context.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(context.header_value(), VALID);
        let child = context.child();
        assert_eq!(child.trace_id(), context.trace_id());
        assert_ne!(child.header_value(), VALID);
        assert!(TraceParent::parse(&child.header_value()).is_some());
        // A later version may append fields.
        assert!(TraceParent::parse(&format!("01{}-extra", &VALID[2..])).is_some());
    }

    #[test]
    fn invalid_contexts_are_ignored() {
        for bad in [
            "",
            "00",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        ] {
            assert!(TraceParent::parse(bad).is_none(), "{bad:?}");
        }
    }
}
