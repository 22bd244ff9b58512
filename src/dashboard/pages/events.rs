//! `/dashboard/events`: the latest events; `/dashboard/events/{id}`: one event, each of its
//! deliveries with every attempt (the request's headers, the answer's status and start, the
//! time it took), and a button to send it again to an endpoint that had it.

use std::fmt::Write;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::failed;
use crate::api::AppState;
use crate::dashboard::html::{self, esc, Section};
use crate::dashboard::session::{self, Operator};
use crate::domain::{EventId, WebhookEndpointId};
use crate::store::operator::{OpsAttempt, OpsDelivery, OpsEvent};

/// How much of a receiver's answer a page shows.
const EXCERPT: usize = 300;

/// `GET /dashboard/events`.
pub async fn list(State(state): State<AppState>, operator: Operator) -> Response {
    let events = match state.store.ops_events(100).await {
        Ok(events) => events,
        Err(e) => return failed(e),
    };
    let mut body = String::from(
        r#"<table><caption>The latest 100 events</caption><thead><tr><th scope="col">Event</th>
<th scope="col">Mode</th><th scope="col">Organization</th><th scope="col">Type</th>
<th scope="col">Link</th><th scope="col">Created</th></tr></thead><tbody>"#,
    );
    for event in &events {
        event_row(&mut body, event);
    }
    if events.is_empty() {
        body.push_str(r#"<tr><td colspan="6">No event yet.</td></tr>"#);
    }
    body.push_str("</tbody></table>");
    html::ok(html::page(
        "Events",
        Section::Events,
        Some(&operator.csrf),
        &body,
    ))
}

fn event_row(body: &mut String, event: &OpsEvent) {
    let link = event.link_id.as_deref().map_or_else(
        || "—".to_owned(),
        |id| {
            format!(
                r#"<a href="/dashboard/links/{0}"><code>{0}</code></a>"#,
                esc(id)
            )
        },
    );
    let _ = write!(
        body,
        r#"<tr class="row-{mode}"><td><a href="/dashboard/events/{id}"><code>{id}</code></a></td><td>{badge}</td>
<td>{org}</td><td>{kind}</td><td>{link}</td><td>{at}</td></tr>"#,
        mode = esc(&event.mode),
        id = esc(&event.id),
        badge = html::mode_badge(&event.mode),
        org = esc(&event.organization),
        kind = esc(&event.event_type),
        at = html::time(event.created_at),
    );
}

/// `GET /dashboard/events/{id}`.
pub async fn show(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
) -> Response {
    let (event, deliveries) = match state.store.ops_event(&id).await {
        Ok(Some(found)) => found,
        Ok(None) => return html::not_found("event", Some(&operator.csrf)),
        Err(e) => return failed(e),
    };
    let mut body = format!(
        r#"<dl class="facts"><div><dt>Mode</dt><dd>{badge}</dd></div><div><dt>Organization</dt><dd>{org}</dd></div>
<div><dt>Type</dt><dd>{kind}</dd></div><div><dt>Created</dt><dd>{at}</dd></div></dl>"#,
        badge = html::mode_badge(&event.mode),
        org = esc(&event.organization),
        kind = esc(&event.event_type),
        at = html::time(event.created_at),
    );
    if let Some(link) = &event.link_id {
        let _ = write!(
            body,
            r#"<p><a href="/dashboard/links/{0}">Its link, <code>{0}</code></a></p>"#,
            esc(link)
        );
    }
    body.push_str(r#"<section aria-labelledby="deliveries"><h2 id="deliveries">Deliveries</h2>"#);
    if deliveries.is_empty() {
        body.push_str("<p>No endpoint was subscribed to this event.</p>");
    }
    let pending = deliveries.iter().any(|d| d.state == "pending");
    for delivery in &deliveries {
        delivery_section(&mut body, &event, delivery, &operator);
    }
    body.push_str("</section>");
    if pending {
        // dashboard.js reloads a page marked so until nothing is pending.
        body.push_str(r#"<p class="live" data-reload-while-pending="true" role="status">A delivery is pending; this page refreshes itself.</p>"#);
    }
    html::ok(html::page(
        &format!("Event {}", event.id),
        Section::Events,
        Some(&operator.csrf),
        &body,
    ))
}

fn delivery_section(
    body: &mut String,
    event: &OpsEvent,
    delivery: &OpsDelivery,
    operator: &Operator,
) {
    let _ = write!(
        body,
        r#"<article class="delivery" id="{id}" aria-labelledby="{id}-title">
<h3 id="{id}-title">To {url} {state}</h3>
<p><small>Delivery <code>{id}</code>, endpoint <code>{endpoint}</code>, queued {at}</small></p>
<form method="post" action="/dashboard/events/{event}/resend" class="inline">
<input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="endpoint_id" value="{endpoint}">
<button type="submit">Resend to this endpoint</button></form>
<table class="attempts"><caption>Attempts ({count})</caption><thead><tr><th scope="col">When</th>
<th scope="col">Request headers</th><th scope="col">Status</th><th scope="col">Answer (start)</th>
<th scope="col">Took</th></tr></thead><tbody>"#,
        id = esc(&delivery.id),
        url = esc(&delivery.url),
        state = html::status_badge(&delivery.state),
        endpoint = esc(&delivery.endpoint_id),
        at = html::time(delivery.created_at),
        event = esc(&event.id),
        csrf = esc(&operator.csrf),
        count = delivery.attempts.len(),
    );
    for attempt in &delivery.attempts {
        attempt_row(body, event, attempt);
    }
    if delivery.attempts.is_empty() {
        body.push_str(r#"<tr><td colspan="5">Not attempted yet.</td></tr>"#);
    }
    body.push_str("</tbody></table></article>");
}

/// The headers every attempt sends. The signatures are computed per attempt from the
/// endpoint's secret and not kept, so they are named, not shown.
fn attempt_row(body: &mut String, event: &OpsEvent, attempt: &OpsAttempt) {
    let status = match (attempt.status_code, &attempt.error) {
        (Some(code), _) => format!(
            "{} {}",
            html::status_badge(if attempt.succeeded { "ok" } else { "failed" }),
            code
        ),
        (None, Some(error)) => format!("{} {}", html::status_badge("failed"), esc(error)),
        (None, None) => "—".to_owned(),
    };
    let mut excerpt: String = attempt
        .response_body
        .as_deref()
        .unwrap_or("")
        .chars()
        .take(EXCERPT)
        .collect();
    if attempt
        .response_body
        .as_deref()
        .is_some_and(|b| b.chars().count() > EXCERPT)
    {
        excerpt.push('…');
    }
    let _ = write!(
        body,
        r#"<tr class="attempt"><td><time>{at}</time></td><td><pre class="headers">content-type: application/json
webhook-id: {event}
webhook-timestamp: {t}
fintoc-signature: t={t},v1=(signed for this attempt)
webhook-signature: v1,(signed for this attempt)</pre></td><td>{status}</td><td><pre class="excerpt">{excerpt}</pre></td><td>{took}</td></tr>"#,
        at = html::time(attempt.attempted_at),
        event = esc(&event.id),
        t = attempt.attempted_at / 1000,
        excerpt = esc(&excerpt),
        took = html::duration(attempt.latency_ms),
    );
}

/// The resend form.
#[derive(Deserialize)]
pub struct ResendForm {
    csrf: String,
    endpoint_id: String,
}

/// `POST /dashboard/events/{id}/resend`: a new delivery of the event to an endpoint that
/// already had one (so of its organization and mode).
pub async fn resend(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    Form(form): Form<ResendForm>,
) -> Response {
    if !operator.csrf_ok(&form.csrf) {
        return session::csrf_refused();
    }
    let found = match state.store.ops_event(&id).await {
        Ok(found) => found,
        Err(e) => return failed(e),
    };
    let Some((event, deliveries)) = found else {
        return html::not_found("event", Some(&operator.csrf));
    };
    let endpoint = deliveries
        .iter()
        .find(|d| d.endpoint_id == form.endpoint_id);
    let (Some(event_id), Some(endpoint_id)) = (
        EventId::parse(&event.id),
        endpoint.and_then(|d| WebhookEndpointId::parse(&d.endpoint_id)),
    ) else {
        return html::not_found("endpoint that had this event", Some(&operator.csrf));
    };
    match state.store.queue_delivery(&event_id, &endpoint_id).await {
        Ok(delivery) => {
            state.webhook_wake.notify_one();
            tracing::info!(event_id = %event_id, delivery_id = %delivery, "operator resent an event");
            Redirect::to(&format!("/dashboard/events/{}#{}", event.id, delivery)).into_response()
        }
        Err(e) => failed(e),
    }
}
