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

use std::future::Future;

use axum::extract::Request;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use rand::RngCore;

use crate::domain::{Event, RefreshIntentId};
use crate::store::Store;

/// The header's name.
pub const HEADER: &str = "traceparent";

/// A parsed `traceparent`: version 00's four fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceParent {
    trace_id: String,
    parent_id: String,
    flags: String,
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl TraceParent {
    /// Parses a header value; `None` when it is not a valid context (which is then ignored,
    /// as the specification asks, and a trace is not started for it).
    pub fn parse(value: &str) -> Option<Self> {
        let mut fields = value.trim().split('-');
        let (version, trace_id, parent_id, flags) = (
            fields.next()?,
            fields.next()?,
            fields.next()?,
            fields.next()?,
        );
        // Version 00 has exactly four fields; a later version may add more after them.
        if !is_hex(version, 2) || version == "ff" || (version == "00" && fields.next().is_some()) {
            return None;
        }
        if !is_hex(trace_id, 32) || !is_hex(parent_id, 16) || !is_hex(flags, 2) {
            return None;
        }
        if trace_id.bytes().all(|b| b == b'0') || parent_id.bytes().all(|b| b == b'0') {
            return None;
        }
        Some(Self {
            trace_id: trace_id.to_owned(),
            parent_id: parent_id.to_owned(),
            flags: flags.to_owned(),
        })
    }

    /// The context of `headers`, if they carry a valid one.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        Self::parse(headers.get(HEADER)?.to_str().ok()?)
    }

    /// The trace's id (32 hex digits).
    pub fn trace_id(&self) -> &str {
        &self.trace_id
    }

    /// A context for a call made within this one: the same trace, a new span id.
    pub fn child(&self) -> Self {
        let mut span = [0u8; 8];
        while span.iter().all(|b| *b == 0) {
            rand::thread_rng().fill_bytes(&mut span);
        }
        Self {
            trace_id: self.trace_id.clone(),
            parent_id: hex::encode(span),
            flags: self.flags.clone(),
        }
    }

    /// The header value, version 00.
    pub fn header_value(&self) -> String {
        format!("00-{}-{}-{}", self.trace_id, self.parent_id, self.flags)
    }
}

tokio::task_local! {
    static CURRENT: TraceParent;
}

/// The context the current task runs in, if any.
pub fn current() -> Option<TraceParent> {
    CURRENT.try_with(Clone::clone).ok()
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
/// hold a link token) and the trace id when the request carried one.
pub fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let context = TraceParent::from_headers(request.headers());
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        trace_id = context.as_ref().map(TraceParent::trace_id),
    )
}

/// Keeps the current context for the refresh intent about to be created, so its job resumes
/// it. Best effort: a failure is logged, and the refresh goes on untraced.
pub async fn remember(store: &Store, intent: &RefreshIntentId) {
    let Some(context) = current() else { return };
    if let Err(e) = store
        .remember_trace_context(intent.as_str(), &context.header_value())
        .await
    {
        tracing::warn!(error = format!("{e:#}"), "keeping the trace context failed");
    }
}

/// The context a refresh intent was created in, recorded on the current span as `trace_id`.
pub async fn resume(store: &Store, intent: &RefreshIntentId) -> Option<TraceParent> {
    let context = match store.trace_context(intent.as_str()).await {
        Ok(stored) => stored.as_deref().and_then(TraceParent::parse)?,
        Err(e) => {
            tracing::warn!(error = format!("{e:#}"), "reading the trace context failed");
            return None;
        }
    };
    tracing::Span::current().record("trace_id", context.trace_id());
    Some(context)
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
