//! `/dashboard`: organizations, the job queue, institution health and the two charts.

use std::fmt::Write;

use axum::extract::State;
use axum::response::Response;

use super::failed;
use crate::api::AppState;
use crate::dashboard::charts::{self, Bar};
use crate::dashboard::html::{self, esc, Section};
use crate::dashboard::session::Operator;
use crate::domain::Timestamp;
use crate::store::operator::{MinuteCount, QueueReading};

const HOUR: i64 = 60 * 60 * 1000;

/// `GET /dashboard`.
pub async fn show(State(state): State<AppState>, operator: Operator) -> Response {
    match render(&state).await {
        Ok(body) => html::ok(html::page(
            "Overview",
            Section::Overview,
            Some(&operator.csrf),
            &body,
        )),
        Err(e) => failed(e),
    }
}

async fn render(state: &AppState) -> anyhow::Result<String> {
    let now = Timestamp::now().millis();
    let store = &state.store;
    let organizations = store.ops_organizations().await?;
    let queue = store.queue_reading().await?;
    let health = store.ops_institution_health(now - 24 * HOUR).await?;
    let minutes = store.ops_attempts_per_minute(now - HOUR).await?;
    let latencies = store.ops_refresh_latencies(now - 24 * HOUR, 2000).await?;

    let mut body = String::new();
    body.push_str(r#"<section aria-labelledby="orgs"><h2 id="orgs">Organizations</h2>"#);
    body.push_str(
        r#"<table><thead><tr><th scope="col">Name</th><th scope="col">Id</th>
<th scope="col">Live links</th><th scope="col">Test links</th><th scope="col">Webhook endpoints</th>
<th scope="col">Created</th></tr></thead><tbody>"#,
    );
    for org in &organizations {
        let _ = write!(
            body,
            r#"<tr><td><a href="/dashboard/links?q={q}">{name}</a></td><td><code>{id}</code></td>
<td>{live}</td><td>{test}</td><td>{endpoints}</td><td>{created}</td></tr>"#,
            q = html::query_value(&org.name),
            name = esc(&org.name),
            id = esc(&org.id),
            live = org.live_links,
            test = org.test_links,
            endpoints = org.endpoints,
            created = html::time(org.created_at),
        );
    }
    body.push_str("</tbody></table></section>");

    queue_section(&mut body, &queue);

    body.push_str(
        r#"<section aria-labelledby="health"><h2 id="health">Institution health (last 24 hours)</h2>
<table><thead><tr><th scope="col">Institution</th><th scope="col">Succeeded</th>
<th scope="col">Failed</th><th scope="col">Rejected</th><th scope="col">In progress</th>
<th scope="col">Success rate</th></tr></thead><tbody>"#,
    );
    for h in &health {
        let ended = h.succeeded + h.failed + h.rejected;
        let rate = if ended == 0 {
            "—".to_owned()
        } else {
            format!("{}%", h.succeeded * 100 / ended)
        };
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{rate}</td></tr>",
            esc(&h.institution),
            h.succeeded,
            h.failed,
            h.rejected,
            h.in_progress
        );
    }
    if health.is_empty() {
        body.push_str(r#"<tr><td colspan="6">No refreshes in the last 24 hours.</td></tr>"#);
    }
    body.push_str("</tbody></table></section>");

    body.push_str(
        r#"<section aria-labelledby="charts"><h2 id="charts">Charts</h2><div class="charts">"#,
    );
    body.push_str(&charts::bars(
        "Webhook attempts per minute (last hour)",
        &minute_bars(&minutes, now),
        &[("ok", "delivered (2xx)"), ("ko", "failed")],
    ));
    body.push_str(&charts::bars(
        "Refresh latency, creation to end (last 24 hours)",
        &latency_bars(&latencies),
        &[("ok", "refreshes")],
    ));
    body.push_str("</div></section>");
    Ok(body)
}

fn queue_section(body: &mut String, queue: &QueueReading) {
    let _ = write!(
        body,
        r#"<section aria-labelledby="queue"><h2 id="queue">Job queue</h2>
<dl class="figures">
<div><dt>Ready</dt><dd>{ready}</dd></div>
<div><dt>Running</dt><dd>{running}</dd></div>
<div><dt>Parked for a second factor</dt><dd>{parked}</dd></div>
<div><dt>Oldest due job waiting</dt><dd>{oldest}</dd></div>
<div><dt>Expired leases</dt><dd>{expired}</dd></div>
<div><dt>Webhook deliveries pending</dt><dd>{pending}</dd></div>
<div><dt>Endpoints disabled</dt><dd>{disabled}</dd></div>
</dl>
<table><caption>Jobs by institution</caption><thead><tr><th scope="col">Institution</th>
<th scope="col">Ready</th><th scope="col">Running</th><th scope="col">Parked</th></tr></thead><tbody>"#,
        ready = queue.in_state("ready"),
        running = queue.in_state("running"),
        parked = queue.in_state("parked"),
        oldest = html::duration(queue.oldest_ready_age_millis),
        expired = queue.expired_leases,
        pending = queue.deliveries_pending,
        disabled = queue.endpoints_disabled,
    );
    let mut institutions: Vec<&str> = queue.jobs.iter().map(|j| j.institution.as_str()).collect();
    institutions.dedup();
    for institution in &institutions {
        let count = |state: &str| {
            queue
                .jobs
                .iter()
                .find(|j| j.state == state && j.institution == *institution)
                .map_or(0, |j| j.count)
        };
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(institution),
            count("ready"),
            count("running"),
            count("parked")
        );
    }
    if institutions.is_empty() {
        body.push_str(r#"<tr><td colspan="4">The queue is empty.</td></tr>"#);
    }
    body.push_str("</tbody></table></section>");
}

/// The last 60 minutes, one bar each (empty minutes included, so time reads left to right).
fn minute_bars(minutes: &[MinuteCount], now: i64) -> Vec<Bar> {
    let last = now / 60_000;
    (last - 59..=last)
        .map(|minute| {
            let found = minutes.iter().find(|m| m.minute == minute);
            let label = chrono::DateTime::from_timestamp(minute * 60, 0)
                .map_or_else(String::new, |t| t.format("%H:%M").to_string());
            Bar {
                label,
                parts: vec![
                    ("ok", found.map_or(0, |m| m.succeeded)),
                    ("ko", found.map_or(0, |m| m.failed)),
                ],
            }
        })
        .collect()
}

/// Refreshes by how long they took, in the buckets a person thinks in.
fn latency_bars(latencies: &[i64]) -> Vec<Bar> {
    const BUCKETS: [(i64, &str); 8] = [
        (1_000, "< 1 s"),
        (2_000, "1–2 s"),
        (5_000, "2–5 s"),
        (10_000, "5–10 s"),
        (30_000, "10–30 s"),
        (60_000, "30–60 s"),
        (300_000, "1–5 min"),
        (i64::MAX, "≥ 5 min"),
    ];
    let mut lower = i64::MIN;
    BUCKETS
        .iter()
        .map(|&(upper, label)| {
            let n = latencies
                .iter()
                .filter(|&&l| l >= lower && l < upper)
                .count();
            lower = upper;
            Bar {
                label: label.to_owned(),
                parts: vec![("ok", i64::try_from(n).unwrap_or(i64::MAX))],
            }
        })
        .collect()
}
