//! `/dashboard/webhooks`: every endpoint with its health (success rate over the last 24
//! hours, its last error, why it is disabled) and a button to recover it: re-enable it and
//! queue again what failed for good in the last three days.

use std::fmt::Write;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;

use super::failed;
use crate::api::AppState;
use crate::dashboard::html::{self, esc, Section};
use crate::dashboard::session::{self, CsrfForm, Operator};
use crate::domain::{Mode, OrganizationId, Timestamp, WebhookEndpointId};
use crate::store::operator::OpsEndpoint;
use crate::store::EndpointPatch;

const DAY: i64 = 24 * 60 * 60 * 1000;
/// How far back a recovery queues failed deliveries again.
const RECOVER_DAYS: i64 = 3;

/// `GET /dashboard/webhooks`.
pub async fn list(State(state): State<AppState>, operator: Operator) -> Response {
    let since = Timestamp::now().millis() - DAY;
    let endpoints = match state.store.ops_endpoints(since).await {
        Ok(endpoints) => endpoints,
        Err(e) => return failed(e),
    };
    let mut body = String::from(
        r#"<table class="endpoints"><thead><tr><th scope="col">Endpoint</th><th scope="col">Mode</th>
<th scope="col">Organization</th><th scope="col">URL</th><th scope="col">Health</th>
<th scope="col">Success (24 h)</th><th scope="col">Last error</th><th scope="col">Action</th></tr></thead><tbody>"#,
    );
    for endpoint in &endpoints {
        endpoint_row(&mut body, endpoint, &operator.csrf);
    }
    if endpoints.is_empty() {
        body.push_str(r#"<tr><td colspan="8">No webhook endpoint.</td></tr>"#);
    }
    body.push_str("</tbody></table>");
    html::ok(html::page(
        "Webhook endpoints",
        Section::Webhooks,
        Some(&operator.csrf),
        &body,
    ))
}

fn endpoint_row(body: &mut String, endpoint: &OpsEndpoint, csrf: &str) {
    let health = if endpoint.disabled {
        let why = match endpoint.disabled_reason.as_deref() {
            Some("gone") => "the receiver answered 410 Gone",
            Some("failing") => "its deliveries failed for too long",
            Some("client") => "disabled through the API",
            _ => "disabled",
        };
        format!("{} {}", html::status_badge("disabled"), esc(why))
    } else if let Some(since) = endpoint.failing_since {
        format!(
            "{} since {}",
            html::status_badge("failing"),
            html::time(since)
        )
    } else {
        html::status_badge("ok")
    };
    let rate = if endpoint.attempts == 0 {
        "no attempts".to_owned()
    } else {
        format!(
            "{}% of {}",
            endpoint.succeeded * 100 / endpoint.attempts,
            endpoint.attempts
        )
    };
    let _ = write!(
        body,
        r#"<tr class="row-{mode}"><td><code>{id}</code></td><td>{badge}</td><td>{org}</td><td>{url}</td>
<td>{health}</td><td>{rate}</td><td>{error}</td><td><form method="post" action="/dashboard/webhooks/{id}/recover" class="inline">
<input type="hidden" name="csrf" value="{csrf}"><button type="submit" aria-label="Recover {id}">Recover</button></form></td></tr>"#,
        mode = esc(&endpoint.mode),
        id = esc(&endpoint.id),
        badge = html::mode_badge(&endpoint.mode),
        org = esc(&endpoint.organization),
        url = esc(&endpoint.url),
        error = endpoint
            .last_error
            .as_deref()
            .map_or_else(|| "—".to_owned(), esc),
        csrf = esc(csrf),
    );
}

/// `POST /dashboard/webhooks/{id}/recover`.
pub async fn recover(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !operator.csrf_ok(&form.csrf) {
        return session::csrf_refused();
    }
    let now = Timestamp::now().millis();
    let endpoints = match state.store.ops_endpoints(now - DAY).await {
        Ok(endpoints) => endpoints,
        Err(e) => return failed(e),
    };
    let found = endpoints.iter().find(|e| e.id == id).and_then(|e| {
        Some((
            WebhookEndpointId::parse(&e.id)?,
            OrganizationId::parse(&e.organization_id)?,
            Mode::parse(&e.mode)?,
        ))
    });
    let Some((endpoint_id, organization_id, mode)) = found else {
        return html::not_found("webhook endpoint", Some(&operator.csrf));
    };
    let recovered = async {
        let patch = EndpointPatch {
            disabled: Some(false),
            ..EndpointPatch::default()
        };
        state
            .store
            .update_endpoint(&organization_id, mode, &endpoint_id, &patch)
            .await?;
        let since = Timestamp::from_millis(now - RECOVER_DAYS * DAY);
        state
            .store
            .recover_failed_deliveries(&endpoint_id, since)
            .await
    };
    match recovered.await {
        Ok(count) => {
            state.webhook_wake.notify_one();
            tracing::info!(endpoint_id = %endpoint_id, recovered = count, "operator recovered an endpoint");
            Redirect::to("/dashboard/webhooks").into_response()
        }
        Err(e) => failed(e),
    }
}
