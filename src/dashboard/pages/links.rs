//! `/dashboard/links`: every link, searchable; `/dashboard/links/{id}`: one link, its
//! refreshes as timelines (created → started → second factor → finished, with each account's
//! outcome) and the events about it.

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::{Path, Query, State};
use axum::response::Response;

use super::failed;
use crate::api::AppState;
use crate::dashboard::html::{self, esc, Section};
use crate::dashboard::session::Operator;
use crate::store::operator::{OpsIntent, OpsLink};

/// Links per page.
const PER_PAGE: i64 = 50;

/// `GET /dashboard/links?q=…&page=…`. Parameters are read leniently: a page that is not a
/// number is the first.
pub async fn list(
    State(state): State<AppState>,
    operator: Operator,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let search = params.get("q").map_or("", |q| q.trim());
    let page = params
        .get("page")
        .and_then(|p| p.parse::<i64>().ok())
        .filter(|p| (1..=10_000).contains(p))
        .unwrap_or(1);
    let links = match state
        .store
        .ops_links(search, PER_PAGE + 1, (page - 1) * PER_PAGE)
        .await
    {
        Ok(links) => links,
        Err(e) => return failed(e),
    };
    let more = links.len() > usize::try_from(PER_PAGE).unwrap_or(50);
    let mut body = format!(
        r#"<form method="get" action="/dashboard/links" class="search" role="search">
<label for="q">Search links</label>
<input id="q" name="q" type="search" value="{}" placeholder="link id, holder id, institution or organization">
<button type="submit">Search</button>
</form>"#,
        esc(search)
    );
    body.push_str(
        r#"<table class="links"><thead><tr><th scope="col">Link</th><th scope="col">Mode</th>
<th scope="col">Organization</th><th scope="col">Institution</th><th scope="col">Holder</th>
<th scope="col">Status</th><th scope="col">Last refresh</th><th scope="col">Last error</th></tr></thead><tbody>"#,
    );
    for link in links.iter().take(usize::try_from(PER_PAGE).unwrap_or(50)) {
        link_row(&mut body, link);
    }
    if links.is_empty() {
        body.push_str(r#"<tr><td colspan="8">No link matches.</td></tr>"#);
    }
    body.push_str("</tbody></table>");
    if page > 1 || more {
        body.push_str(r#"<nav aria-label="Pages" class="pages">"#);
        let q = html::query_value(search);
        if page > 1 {
            let _ = write!(
                body,
                r#"<a href="/dashboard/links?q={q}&amp;page={}" rel="prev">Previous</a> "#,
                page - 1
            );
        }
        if more {
            let _ = write!(
                body,
                r#"<a href="/dashboard/links?q={q}&amp;page={}" rel="next">Next</a>"#,
                page + 1
            );
        }
        body.push_str("</nav>");
    }
    html::ok(html::page(
        "Links",
        Section::Links,
        Some(&operator.csrf),
        &body,
    ))
}

fn link_status(link: &OpsLink) -> &str {
    if link.active {
        &link.credential_status
    } else {
        "inactive"
    }
}

fn link_row(body: &mut String, link: &OpsLink) {
    let error = match (&link.last_error, &link.last_failure_reason) {
        (Some(error), Some(reason)) => format!("{} ({})", esc(error), esc(reason)),
        (Some(error), None) => esc(error),
        _ => "—".to_owned(),
    };
    let _ = write!(
        body,
        r#"<tr class="row-{mode}"><td><a href="/dashboard/links/{id}"><code>{id}</code></a></td><td>{badge}</td>
<td>{org}</td><td>{institution}</td><td>{holder} <small>{holder_type}</small></td><td>{status}</td>
<td>{refreshed}</td><td>{error}</td></tr>"#,
        mode = esc(&link.mode),
        id = esc(&link.id),
        badge = html::mode_badge(&link.mode),
        org = esc(&link.organization),
        institution = esc(&link.institution_name),
        holder = esc(&link.holder_id),
        holder_type = esc(&link.holder_type),
        status = html::status_badge(link_status(link)),
        refreshed = html::maybe_time(link.last_time_refreshed),
    );
}

/// `GET /dashboard/links/{id}`.
pub async fn show(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
) -> Response {
    let loaded = async {
        let Some(link) = state.store.ops_link(&id).await? else {
            return anyhow::Ok(None);
        };
        let intents = state.store.ops_link_intents(&id, 50).await?;
        let events = state.store.ops_link_events(&id, 100).await?;
        Ok(Some((link, intents, events)))
    };
    let (link, intents, events) = match loaded.await {
        Ok(Some(found)) => found,
        Ok(None) => return html::not_found("link", Some(&operator.csrf)),
        Err(e) => return failed(e),
    };
    let mut body = format!(
        r#"<dl class="facts"><div><dt>Mode</dt><dd>{badge}</dd></div>
<div><dt>Organization</dt><dd>{org}</dd></div><div><dt>Institution</dt><dd>{institution} <code>{institution_id}</code></dd></div>
<div><dt>Holder</dt><dd>{holder} ({holder_type})</dd></div><div><dt>Status</dt><dd>{status}</dd></div>
<div><dt>Refresh status</dt><dd>{refresh_status}</dd></div>
<div><dt>Last refresh</dt><dd>{refreshed}</dd></div><div><dt>Created</dt><dd>{created}</dd></div></dl>"#,
        badge = html::mode_badge(&link.mode),
        org = esc(&link.organization),
        institution = esc(&link.institution_name),
        institution_id = esc(&link.institution_id),
        holder = esc(&link.holder_id),
        holder_type = esc(&link.holder_type),
        status = html::status_badge(link_status(&link)),
        refresh_status = esc(&link.refresh_status),
        refreshed = html::maybe_time(link.last_time_refreshed),
        created = html::time(link.created_at),
    );
    body.push_str(r#"<section aria-labelledby="refreshes"><h2 id="refreshes">Refreshes</h2>"#);
    if intents.is_empty() {
        body.push_str("<p>No refresh yet.</p>");
    }
    for intent in &intents {
        timeline(&mut body, intent);
    }
    body.push_str("</section>");
    body.push_str(
        r#"<section aria-labelledby="events"><h2 id="events">Events</h2><table><thead><tr>
<th scope="col">Event</th><th scope="col">Type</th><th scope="col">Created</th></tr></thead><tbody>"#,
    );
    for event in &events {
        let _ = write!(
            body,
            r#"<tr><td><a href="/dashboard/events/{id}"><code>{id}</code></a></td><td>{kind}</td><td>{at}</td></tr>"#,
            id = esc(&event.id),
            kind = esc(&event.event_type),
            at = html::time(event.created_at)
        );
    }
    if events.is_empty() {
        body.push_str(r#"<tr><td colspan="3">No event about this link.</td></tr>"#);
    }
    body.push_str("</tbody></table></section>");
    html::ok(html::page(
        &format!("Link {}", link.id),
        Section::Links,
        Some(&operator.csrf),
        &body,
    ))
}

/// One refresh as an ordered list of its steps, then its accounts' outcomes.
fn timeline(body: &mut String, intent: &OpsIntent) {
    let since = |at: i64| html::duration(at - intent.created_at);
    let _ = write!(
        body,
        r#"<article class="intent" id="{id}" aria-labelledby="{id}-title">
<h3 id="{id}-title"><code>{id}</code> {status} <small>{kind}</small></h3>
<ol class="timeline">
<li class="step done"><span class="what">Created</span> <time>{created}</time></li>"#,
        id = esc(&intent.id),
        status = html::status_badge(&intent.status),
        kind = esc(&intent.refresh_type),
        created = html::time(intent.created_at),
    );
    match intent.started_at {
        Some(at) => {
            let _ = write!(
                body,
                r#"<li class="step done"><span class="what">Started</span> <time>{}</time> <small>+{}</small></li>"#,
                html::time(at),
                since(at)
            );
        }
        None => body
            .push_str(r#"<li class="step waiting"><span class="what">Started</span> not yet</li>"#),
    }
    if let Some(kind) = &intent.mfa_kind {
        let state = if intent.mfa_completed {
            "answered".to_owned()
        } else if intent.finished_at.is_some() {
            "never answered".to_owned()
        } else {
            "waiting for the holder".to_owned()
        };
        let _ = write!(
            body,
            r#"<li class="step {class}"><span class="what">Second factor</span> {kind}: {state}{wrong}</li>"#,
            class = if intent.mfa_completed {
                "done"
            } else {
                "waiting"
            },
            kind = esc(kind),
            wrong = if intent.mfa_attempts > 0 {
                format!(", {} wrong", intent.mfa_attempts)
            } else {
                String::new()
            },
        );
    }
    match intent.finished_at {
        Some(at) => {
            let error = match (&intent.public_error, &intent.failure_reason) {
                (Some(e), Some(r)) => format!(": {} ({})", esc(e), esc(r)),
                (Some(e), None) => format!(": {}", esc(e)),
                _ => String::new(),
            };
            let _ = write!(
                body,
                r#"<li class="step done"><span class="what">Finished</span> {status}{error} <time>{at}</time> <small>+{took}</small></li>"#,
                status = esc(&intent.status),
                at = html::time(at),
                took = since(at),
            );
        }
        None => body.push_str(
            r#"<li class="step waiting"><span class="what">Finished</span> not yet</li>"#,
        ),
    }
    body.push_str("</ol>");
    if !intent.accounts.is_empty() {
        body.push_str(
            r#"<table class="accounts"><caption>Accounts</caption><thead><tr><th scope="col">Account</th>
<th scope="col">Outcome</th><th scope="col">New</th><th scope="col">Modified</th><th scope="col">Removed</th></tr></thead><tbody>"#,
        );
        for account in &intent.accounts {
            let outcome = match &account.public_error {
                Some(error) => format!("{} {}", html::status_badge(&account.status), esc(error)),
                None => html::status_badge(&account.status),
            };
            let _ = write!(
                body,
                "<tr><td>{name} <code>{id}</code></td><td>{outcome}</td><td>{new}</td><td>{modified}</td><td>{removed}</td></tr>",
                name = esc(&account.account_name),
                id = esc(&account.account_id),
                new = account.new,
                modified = account.modified,
                removed = account.removed,
            );
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("</article>");
}
