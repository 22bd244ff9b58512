//! The operator token's gate: off without one configured (saying how to turn it on), and a
//! Fintoc 401 for a missing or wrong token.

use reqwest::Method;

use crate::common::*;
use crate::support::*;

crate::both_backends! {
    async fn without_a_token_metrics_are_off_and_say_how_to_turn_them_on(app: TestApp) {
        let response = app
            .request(Method::GET, "/metrics", Some("Bearer anything-at-all-000"), None)
            .await;
        let (status, body) = into_json(response).await;
        assert_error(status, &body, 404, "operator_disabled");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("REFRESCO_OPERATOR_TOKEN"), "{message}");
        assert!(message.contains("operator_token"), "{message}");
        for path in ["/dashboard", "/dashboard/sign-in", "/dashboard/links"] {
            let response = app.request(Method::GET, path, None, None).await;
            assert_eq!(response.status(), 404, "{path}");
            let page = response.text().await.unwrap();
            assert!(page.contains("REFRESCO_OPERATOR_TOKEN"), "{path}: {page}");
        }
    }
}

async fn wrong_tokens_are_refused(backend: Backend) {
    let Some(app) = operator_app(backend).await else {
        return;
    };
    let secret_key = format!("Bearer {}", app.keys.secret_key);
    let near_miss = format!("Bearer {OPERATOR_TOKEN}x");
    let lower_scheme = format!("bearer{OPERATOR_TOKEN}");
    for auth in [
        None,
        Some(""),
        Some(OPERATOR_TOKEN),
        Some(lower_scheme.as_str()),
        Some(near_miss.as_str()),
        Some(secret_key.as_str()),
    ] {
        let response = app.request(Method::GET, "/metrics", auth, None).await;
        let (status, body) = into_json(response).await;
        assert_error(status, &body, 401, "invalid_operator_token");
        assert!(!body.to_string().contains(OPERATOR_TOKEN), "{body}");
    }
    // The right one opens it.
    scrape(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_wrong_tokens_are_refused() {
    wrong_tokens_are_refused(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_wrong_tokens_are_refused() {
    wrong_tokens_are_refused(Backend::Postgres).await;
}

#[test]
fn a_short_operator_token_is_refused_at_start() {
    let config = refresco::Config {
        operator_token: Some(refresco::config::Secret::new("short")),
        ..refresco::Config::default()
    };
    let error = config.validate().unwrap_err().to_string();
    assert!(error.contains("operator_token"), "{error}");
}

/// With `metrics_listen`, `/metrics` is also served there, behind the same token, and
/// nothing else is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_on_their_own_address() {
    let dir = tempfile::tempdir().unwrap();
    let config = refresco::Config {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        metrics_listen: Some("127.0.0.1:0".parse().unwrap()),
        operator_token: Some(refresco::config::Secret::new(OPERATOR_TOKEN)),
        ..refresco::Config::default()
    };
    let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
    let app = refresco::build(config, listener).await.unwrap();
    let base = format!("http://{}", app.metrics_addr().unwrap());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(app.run(shutdown.clone()));
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let scrape = client
        .get(format!("{base}/metrics"))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(scrape.status(), 200);
    assert!(scrape
        .text()
        .await
        .unwrap()
        .contains("refresco_jobs_expired_leases"));
    let refused = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    for path in ["/v1/links", "/dashboard", "/healthz"] {
        let response = client.get(format!("{base}{path}")).send().await.unwrap();
        let (status, body) = into_json(response).await;
        assert_error(status, &body, 404, "invalid_url");
    }
    shutdown.cancel();
    running.await.unwrap().unwrap();
}
