//! The browser side, embedded in the binary from the top-level `widget/` directory: the embed
//! script a client's page loads (`/widget/v1.js`, also at `/js/v1` like Fintoc's
//! `js.fintoc.com/v1/`), the hosted widget page it frames (`/widget`, whose script is the ES
//! module `/widget/frame.js` importing the modules of `widget/frame/`), the demo (`/demo`), and
//! the icon both pages link to (`/widget/favicon.svg`).
//!
//! The pages load no inline script and nothing from elsewhere, so their Content-Security-Policy
//! allows only this server ('self'); that covers module scripts and their imports too, which
//! the browser fetches same-origin, so the widget's modules need no policy of their own. The
//! widget page may be framed by any site (that is its purpose; tokens and origin checks protect
//! it, see `docs/widget.md`); the demo page may not be framed at all.

use axum::http::header::{self, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::AppState;

/// Routes of the pages and their assets.
pub fn router() -> Router<AppState> {
    FILES.iter().fold(
        Router::new(),
        |router, &(path, body, content_type, headers)| {
            router.route(path, get(move || serve(body, content_type, headers)))
        },
    )
}

/// Extra headers of one file.
type Headers = &'static [(&'static str, &'static str)];

/// For scripts and styles: another site may load the embed script.
const STATIC: Headers = &[("cross-origin-resource-policy", "cross-origin")];

/// The hosted widget: anything may frame it, it talks only to this server.
const WIDGET_HEADERS: Headers = &[
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
         img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors *",
    ),
    ("referrer-policy", "no-referrer"),
];

/// The demo: it frames the widget and talks to this server's API; nobody may frame it.
const DEMO_HEADERS: Headers = &[
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
         frame-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'",
    ),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
];

/// The icon: an image that loads nothing and runs nothing, even when opened on its own.
const ICON_HEADERS: Headers = &[
    ("content-security-policy", "default-src 'none'"),
    ("cross-origin-resource-policy", "cross-origin"),
];

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";
const SVG: &str = "image/svg+xml";

const EMBED_SCRIPT: &str = include_str!("../../widget/v1.js");

/// One module of the widget page, `widget/frame/<name>.js`, served at `/widget/frame/<name>.js`
/// (where `/widget/frame.js` imports it from).
macro_rules! frame_module {
    ($name:literal) => {
        (
            concat!("/widget/frame/", $name, ".js"),
            include_str!(concat!("../../widget/frame/", $name, ".js")),
            JS,
            STATIC,
        )
    };
}

/// Every served file: its path, its content (embedded at build time), its type and headers.
const FILES: &[(&str, &str, &str, Headers)] = &[
    ("/widget/v1.js", EMBED_SCRIPT, JS, STATIC),
    ("/js/v1", EMBED_SCRIPT, JS, STATIC),
    (
        "/widget",
        include_str!("../../widget/frame.html"),
        HTML,
        WIDGET_HEADERS,
    ),
    (
        "/widget/frame.js",
        include_str!("../../widget/frame.js"),
        JS,
        STATIC,
    ),
    frame_module!("api"),
    frame_module!("backoff"),
    frame_module!("credentials"),
    frame_module!("dom"),
    frame_module!("done"),
    frame_module!("failed"),
    frame_module!("host"),
    frame_module!("institutions"),
    frame_module!("link"),
    frame_module!("poller"),
    frame_module!("refresh"),
    frame_module!("second-factor"),
    frame_module!("state"),
    frame_module!("text"),
    (
        "/widget/widget.css",
        include_str!("../../widget/widget.css"),
        CSS,
        STATIC,
    ),
    (
        "/widget/favicon.svg",
        include_str!("../../widget/favicon.svg"),
        SVG,
        ICON_HEADERS,
    ),
    (
        "/demo",
        include_str!("../../widget/demo.html"),
        HTML,
        DEMO_HEADERS,
    ),
    (
        "/demo/demo.js",
        include_str!("../../widget/demo.js"),
        JS,
        STATIC,
    ),
    (
        "/demo/demo.css",
        include_str!("../../widget/demo.css"),
        CSS,
        STATIC,
    ),
];

async fn serve(body: &'static str, content_type: &'static str, headers: Headers) -> Response {
    let mut response = body.into_response();
    let all = response.headers_mut();
    all.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    all.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Small files, served from memory: always revalidate so an upgrade is seen at once.
    all.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    for (name, value) in headers {
        all.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    response
}
