//! The browser side, embedded in the binary from the top-level `widget/` directory: the embed
//! script a client's page loads (`/widget/v1.js`, also at `/js/v1` like Fintoc's
//! `js.fintoc.com/v1/`), the hosted widget page it frames (`/widget`), and the demo (`/demo`).
//!
//! The pages load no inline script and nothing from elsewhere, so their Content-Security-Policy
//! allows only this server ('self'). The widget page may be framed by any site (that is its
//! purpose; tokens and origin checks protect it, see `docs/widget.md`); the demo page may not be
//! framed at all.

use axum::http::header::{self, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::AppState;

/// Routes of the pages and their assets.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/widget/v1.js", get(|| asset(EMBED_SCRIPT)))
        .route("/js/v1", get(|| asset(EMBED_SCRIPT)))
        .route("/widget", get(|| asset(WIDGET_PAGE)))
        .route("/widget/frame.js", get(|| asset(WIDGET_SCRIPT)))
        .route("/widget/widget.css", get(|| asset(WIDGET_STYLE)))
        .route("/demo", get(|| asset(DEMO_PAGE)))
        .route("/demo/demo.js", get(|| asset(DEMO_SCRIPT)))
        .route("/demo/demo.css", get(|| asset(DEMO_STYLE)))
}

/// One embedded file and how it is served.
struct Asset {
    body: &'static str,
    content_type: &'static str,
    /// Extra headers (Content-Security-Policy and friends for pages).
    headers: &'static [(&'static str, &'static str)],
}

/// For scripts and styles: another site may load the embed script.
const STATIC: &[(&str, &str)] = &[("cross-origin-resource-policy", "cross-origin")];

/// The hosted widget: anything may frame it, it talks only to this server.
const WIDGET_HEADERS: &[(&str, &str)] = &[
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
         img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors *",
    ),
    ("referrer-policy", "no-referrer"),
];

/// The demo: it frames the widget and talks to this server's API; nobody may frame it.
const DEMO_HEADERS: &[(&str, &str)] = &[
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
         frame-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'",
    ),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
];

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";

const EMBED_SCRIPT: Asset = Asset {
    body: include_str!("../../widget/v1.js"),
    content_type: JS,
    headers: STATIC,
};
const WIDGET_PAGE: Asset = Asset {
    body: include_str!("../../widget/frame.html"),
    content_type: HTML,
    headers: WIDGET_HEADERS,
};
const WIDGET_SCRIPT: Asset = Asset {
    body: include_str!("../../widget/frame.js"),
    content_type: JS,
    headers: STATIC,
};
const WIDGET_STYLE: Asset = Asset {
    body: include_str!("../../widget/widget.css"),
    content_type: CSS,
    headers: STATIC,
};
const DEMO_PAGE: Asset = Asset {
    body: include_str!("../../widget/demo.html"),
    content_type: HTML,
    headers: DEMO_HEADERS,
};
const DEMO_SCRIPT: Asset = Asset {
    body: include_str!("../../widget/demo.js"),
    content_type: JS,
    headers: STATIC,
};
const DEMO_STYLE: Asset = Asset {
    body: include_str!("../../widget/demo.css"),
    content_type: CSS,
    headers: STATIC,
};

async fn asset(asset: Asset) -> Response {
    let mut response = asset.body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Small files, served from memory: always revalidate so an upgrade is seen at once.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    for (name, value) in asset.headers {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    response
}
