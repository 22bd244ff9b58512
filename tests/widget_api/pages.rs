//! The served pages and scripts: content types, security headers, no inline script, and no
//! HTML sink anywhere in the widget's JavaScript (data is only ever put on a page as text).

use std::path::{Path, PathBuf};

use reqwest::{Method, StatusCode};

use crate::common::*;

fn widget_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("widget")
}

/// The widget page's ES modules: every `.js` file in `widget/frame/`, by name.
fn frame_modules() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(widget_dir().join("frame"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".js"))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no modules in widget/frame/");
    names
}

/// Every script of the widget and the demo, relative to `widget/`.
fn scripts() -> Vec<String> {
    let mut all: Vec<String> = ["v1.js", "frame.js", "demo.js"].map(String::from).into();
    all.extend(
        frame_modules()
            .into_iter()
            .map(|name| format!("frame/{name}")),
    );
    all
}

#[tokio::test]
async fn pages_and_scripts_are_served_with_their_policies() {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let get = |path: &'static str| app.request(Method::GET, path, None, None);

    for path in [
        "/widget/v1.js",
        "/js/v1",
        "/js/v1/",
        "/widget/frame.js",
        "/demo/demo.js",
    ] {
        let response = get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let kind = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(kind.starts_with("text/javascript"), "{path}: {kind}");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    }
    // Each module the widget page imports is served, as it is in the repository: one left out
    // of `widget_pages.rs` would break the widget.
    for name in frame_modules() {
        let path = format!("/widget/frame/{name}");
        let response = app.request(Method::GET, &path, None, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let kind = response.headers()["content-type"].to_str().unwrap();
        assert!(kind.starts_with("text/javascript"), "{path}: {kind}");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        let file = std::fs::read_to_string(widget_dir().join("frame").join(&name)).unwrap();
        assert_eq!(response.text().await.unwrap(), file, "{path}");
    }
    let embed = get("/widget/v1.js").await.text().await.unwrap();
    assert!(embed.contains("Fintoc.create = create"), "the drop-in API");
    assert_eq!(get("/js/v1").await.text().await.unwrap(), embed);

    let widget = get("/widget").await;
    assert_eq!(widget.status(), StatusCode::OK);
    let csp = widget.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors *"),
        "{csp}"
    );
    assert!(
        csp.contains("connect-src 'self'"),
        "the widget talks only to its server: {csp}"
    );
    let html = widget.text().await.unwrap();
    assert!(html.contains("role=\"dialog\"") && html.contains("role=\"alert\""));

    let demo = get("/demo").await;
    assert_eq!(demo.status(), StatusCode::OK);
    let csp = demo.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("frame-ancestors 'none'"),
        "nobody frames the demo: {csp}"
    );
    assert_eq!(demo.headers()["x-frame-options"], "DENY");
    let html = demo.text().await.unwrap();
    assert!(!html.contains("value=\"sk_"), "no key in the page");

    for path in ["/widget/widget.css", "/demo/demo.css"] {
        let response = get(path).await;
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css"));
    }
    // The icon both pages link to: an SVG that may run nothing, not even opened on its own.
    let icon = get("/widget/favicon.svg").await;
    assert_eq!(icon.status(), StatusCode::OK);
    assert_eq!(icon.headers()["content-type"], "image/svg+xml");
    assert_eq!(
        icon.headers()["content-security-policy"],
        "default-src 'none'"
    );
    assert_eq!(icon.headers()["x-content-type-options"], "nosniff");
    assert!(icon.text().await.unwrap().starts_with("<svg"));
    for page in ["frame.html", "demo.html"] {
        let html = std::fs::read_to_string(widget_dir().join(page)).unwrap();
        assert!(
            html.contains("<link rel=\"icon\" href=\"/widget/favicon.svg\""),
            "{page} links the icon"
        );
    }

    // Unknown paths stay Fintoc errors.
    let (status, body) = into_json(get("/widget/nope.js").await).await;
    assert_error(status, &body, 404, "invalid_url");
}

#[test]
fn pages_have_no_inline_script_and_scripts_no_html_sinks() {
    for page in ["frame.html", "demo.html"] {
        let html = std::fs::read_to_string(widget_dir().join(page)).unwrap();
        for tag in html.match_indices("<script").map(|(i, _)| &html[i..]) {
            let head = &tag[..tag.find('>').unwrap()];
            assert!(head.contains("src="), "{page}: inline script {head}");
        }
        for handler in ["onclick=", "onload=", "onerror=", "onsubmit=", "oninput="] {
            assert!(!html.contains(handler), "{page}: inline handler {handler}");
        }
    }
    for script in scripts() {
        let code = std::fs::read_to_string(widget_dir().join(&script)).unwrap();
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
        ] {
            assert!(
                !code.contains(sink),
                "{script} uses {sink}: data must go in as text"
            );
        }
        assert!(
            !code.contains("postMessage(message, '*')") && !code.contains("'*')"),
            "{script} posts to any origin"
        );
    }
}
