//! The page shell and the small pieces every page uses. Every value from the database goes
//! through [`esc`]: link holders, receivers' answers and URLs are text, never markup.

use std::fmt::Write;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The pages' policy: this server's stylesheet and script only, no framing, forms post here.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// `text` with HTML's special characters escaped, for element content and quoted attributes.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` for a query string value.
pub fn query_value(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// An epoch-millisecond time as `2024-05-01 13:02:03 UTC`.
pub fn time(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis).map_or_else(
        || "—".to_owned(),
        |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

/// An optional time, or a dash.
pub fn maybe_time(millis: Option<i64>) -> String {
    millis.map_or_else(|| "—".to_owned(), time)
}

/// A duration in milliseconds, for people: `850 ms`, `2.4 s`, `3 min 5 s`.
#[allow(clippy::cast_precision_loss)] // display only
pub fn duration(millis: i64) -> String {
    if millis < 1000 {
        format!("{millis} ms")
    } else if millis < 60_000 {
        format!("{:.1} s", millis as f64 / 1000.0)
    } else {
        format!("{} min {} s", millis / 60_000, (millis % 60_000) / 1000)
    }
}

/// The mode as a badge: test and live look different on every page.
pub fn mode_badge(mode: &str) -> String {
    let (class, label) = if mode == "live" {
        ("mode mode-live", "LIVE")
    } else {
        ("mode mode-test", "TEST")
    };
    format!(r#"<span class="{class}" title="{mode} mode">{label}</span>"#)
}

/// A status as a coloured word (the colour repeats what the word says).
pub fn status_badge(status: &str) -> String {
    let tone = match status {
        "succeeded" | "delivered" | "active" | "ok" => "good",
        "failed" | "rejected" | "login_required" | "disabled" | "gave_up" => "bad",
        _ => "neutral",
    };
    format!(
        r#"<span class="status status-{tone}">{}</span>"#,
        esc(status)
    )
}

/// Which section of the navigation a page belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// Organizations, queue, health, charts.
    Overview,
    /// Links and their refreshes.
    Links,
    /// Events and their deliveries.
    Events,
    /// Webhook endpoints.
    Webhooks,
    /// Sign-in (no navigation).
    SignIn,
}

/// A whole page: the shell, navigation (when signed in) and `body`.
pub fn page(title: &str, section: Section, csrf: Option<&str>, body: &str) -> String {
    let mut html = String::with_capacity(body.len() + 2048);
    let _ = write!(
        html,
        r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Refresco operator</title>
<link rel="stylesheet" href="/dashboard/assets/dashboard.css">
<script src="/dashboard/assets/dashboard.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<span class="brand">Refresco <small>operator</small></span>
"##,
        title = esc(title)
    );
    if section != Section::SignIn {
        html.push_str(r#"<nav aria-label="Sections"><ul>"#);
        for (target, href, label) in [
            (Section::Overview, "/dashboard", "Overview"),
            (Section::Links, "/dashboard/links", "Links"),
            (Section::Events, "/dashboard/events", "Events"),
            (Section::Webhooks, "/dashboard/webhooks", "Webhooks"),
        ] {
            let current = if target == section {
                r#" aria-current="page""#
            } else {
                ""
            };
            let _ = write!(html, r#"<li><a href="{href}"{current}>{label}</a></li>"#);
        }
        html.push_str("</ul></nav>");
        if let Some(csrf) = csrf {
            let _ = write!(
                html,
                r#"<form method="post" action="/dashboard/sign-out" class="sign-out">
<input type="hidden" name="csrf" value="{}"><button type="submit">Sign out</button></form>"#,
                esc(csrf)
            );
        }
    }
    let _ = write!(
        html,
        "</header>\n<main id=\"main\" tabindex=\"-1\">\n<h1>{}</h1>\n{body}\n</main>\n</body>\n</html>\n",
        esc(title)
    );
    html
}

/// An HTML answer with the dashboard's headers.
pub fn respond(status: StatusCode, html: String) -> Response {
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// A 200 page.
pub fn ok(html: String) -> Response {
    respond(StatusCode::OK, html)
}

/// A page saying what was not found.
pub fn not_found(what: &str, csrf: Option<&str>) -> Response {
    respond(
        StatusCode::NOT_FOUND,
        page(
            "Not found",
            Section::Overview,
            csrf,
            &format!("<p>No {} with that id.</p>", esc(what)),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_text() {
        assert_eq!(
            esc(r#"<img src=x onerror="a('b')">&"#),
            "&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;"
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(2_400), "2.4 s");
        assert_eq!(duration(185_000), "3 min 5 s");
    }
}
