//! API rate limits: the IETF RateLimit fields on every answer to a keyed request, 429 with
//! Fintoc's error and `Retry-After` over the limit, a bucket per organization and mode, the
//! widget's connection endpoints on a bucket of their own, and the official Python client
//! raising its error on a 429.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use refresco::domain::Mode;
use reqwest::{Method, Response, StatusCode};

use crate::both_backends;
use crate::common::{into_json, Backend, TestApp};
use crate::support::app_with;

fn field(response: &Response, name: &str) -> u64 {
    response.headers()[name].to_str().unwrap().parse().unwrap()
}

/// Sends GET `path` with `key` until a 429 comes (at most `most` times); the answers before
/// it, and the 429.
async fn until_limited(
    app: &TestApp,
    path: &str,
    key: &str,
    most: usize,
) -> (Vec<Response>, Response) {
    let mut answered = Vec::new();
    for _ in 0..most {
        let response = app.request(Method::GET, path, Some(key), None).await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            return (answered, response);
        }
        answered.push(response);
    }
    panic!("no 429 after {most} requests");
}

both_backends! {
    async fn requests_over_the_limit_get_429_with_the_ratelimit_fields(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let app = app_with(backend, |c| c.api_rate_limit_per_sec = 5).await;
        let key = app.keys.secret_key.clone();
        let (answered, limited) = until_limited(&app, "/v1/links", &key, 50).await;
        assert!(answered.len() >= 5, "the whole burst is let through: {}", answered.len());
        let first = &answered[0];
        assert_eq!(first.status(), StatusCode::OK);
        assert_eq!(field(first, "ratelimit-limit"), 5);
        assert_eq!(field(first, "ratelimit-remaining"), 4);
        assert!(field(first, "ratelimit-reset") <= 1);
        for response in &answered {
            assert_eq!(field(response, "ratelimit-limit"), 5);
        }
        assert_eq!(field(&limited, "ratelimit-remaining"), 0);
        assert_eq!(limited.headers()["retry-after"], "1");
        let (status, body) = into_json(limited).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert_eq!(body["error"]["code"], "rate_limit_exceeded");
        assert_eq!(body["error"]["retry_after_seconds"], 1);

        // Another organization, and the same organization's live mode, have buckets of their own.
        for (org, mode) in [("other", Mode::Test), ("acme", Mode::Live)] {
            let keys = app.key_pair(org, mode).await;
            let response = app.request(Method::GET, "/v1/links", Some(&keys.secret_key), None).await;
            assert_eq!(response.status(), StatusCode::OK, "{org} {mode:?}");
            assert_eq!(field(&response, "ratelimit-remaining"), 4);
        }
        // A herd of twenty at once on a fresh bucket: the burst of five gets through, and
        // only what the bucket refilled while the herd ran (one every 200 ms) besides.
        let herd = app.key_pair("herd", Mode::Test).await;
        let started = std::time::Instant::now();
        let answers = futures_util::future::join_all((0..20).map(|_| {
            app.request(Method::GET, "/v1/links", Some(&herd.secret_key), None)
        }))
        .await;
        let refilled = started.elapsed().as_millis() as usize / 200;
        let ok = answers.iter().filter(|r| r.status() == StatusCode::OK).count();
        let limited = answers.iter().filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS).count();
        assert_eq!(ok + limited, 20);
        assert!((5..=5 + refilled).contains(&ok), "{ok} let through, {refilled} refilled");

        // A request with no key is not counted (and says nothing of a bucket).
        let response = app.request(Method::GET, "/v1/links", None, None).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().get("ratelimit-limit").is_none());
    }

    async fn the_widget_connection_endpoints_have_their_own_bucket(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let app = app_with(backend, |c| {
            c.api_rate_limit_per_sec = 100;
            c.widget_rate_limit = 3;
            c.widget_rate_limit_period_secs = 130;
        })
        .await;
        let public = app.keys.public_key.clone();
        let path = "/v1/widget/link_intents/li_nothing_sec_nothing";
        let (answered, limited) = until_limited(&app, path, &public, 10).await;
        assert_eq!(answered.len(), 3, "three per 130 s");
        for (n, response) in answered.iter().enumerate() {
            assert_eq!(field(response, "ratelimit-limit"), 3);
            assert_eq!(field(response, "ratelimit-remaining"), 2 - n as u64);
        }
        // The next request comes back after 130/3 s.
        let retry: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((40..=44).contains(&retry), "{retry}");
        assert_eq!(field(&limited, "ratelimit-reset"), retry);
        // The API's bucket is another one (Fintoc's default: 100 a second).
        let response = app.request(Method::GET, "/v1/links", Some(&app.keys.secret_key), None).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(field(&response, "ratelimit-limit"), 100);
    }

    async fn the_official_python_client_raises_its_rate_limit_error(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let app = app_with(backend, |c| c.api_rate_limit_per_sec = 3).await;
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let python = repo.join(".venv-test/bin/python");
        if !python.exists() {
            assert!(std::env::var_os("CI").is_none(), "CI needs .venv-test (scripts/test builds it)");
            eprintln!("NOTE: .venv-test missing; the Python client test is SKIPPED");
            return;
        }
        let output = tokio::process::Command::new(python)
            .arg(repo.join("tests/clients/python/test_rate_limit.py"))
            .env("FINTOC_BASE_URL", &app.base)
            .env("FINTOC_SECRET_KEY", &app.keys.secret_key)
            .env_remove("HTTP_PROXY").env_remove("http_proxy")
            .env_remove("HTTPS_PROXY").env_remove("https_proxy")
            .env_remove("ALL_PROXY").env_remove("all_proxy")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(120), output).await.unwrap().unwrap();
        let text = format!("{}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "{text}");
        assert!(text.contains(" passed, 0 failed"), "{text}");
    }
}
