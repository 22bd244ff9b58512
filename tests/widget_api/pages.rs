//! The served pages and scripts: content types, security headers, no inline script, and no
//! HTML sink anywhere in the widget's JavaScript (data is only ever put on a page as text).

use reqwest::{Method, StatusCode};

use crate::common::*;

const SCRIPTS: [&str; 3] = ["widget/v1.js", "widget/frame.js", "widget/demo.js"];

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
    // Unknown paths stay Fintoc errors.
    let (status, body) = into_json(get("/widget/nope.js").await).await;
    assert_error(status, &body, 404, "invalid_url");
}

#[test]
fn pages_have_no_inline_script_and_scripts_no_html_sinks() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for page in ["widget/frame.html", "widget/demo.html"] {
        let html = std::fs::read_to_string(root.join(page)).unwrap();
        for tag in html.match_indices("<script").map(|(i, _)| &html[i..]) {
            let head = &tag[..tag.find('>').unwrap()];
            assert!(head.contains("src="), "{page}: inline script {head}");
        }
        for handler in ["onclick=", "onload=", "onerror=", "onsubmit=", "oninput="] {
            assert!(!html.contains(handler), "{page}: inline handler {handler}");
        }
    }
    for script in SCRIPTS {
        let code = std::fs::read_to_string(root.join(script)).unwrap();
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
