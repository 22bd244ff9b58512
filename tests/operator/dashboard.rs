//! The dashboard over HTTP: sign-in, every page, search, the timeline, resend and recover,
//! the forms' session check, and no secret in any page, on both backends. (The same walk in
//! Chromium is `tests/browser/dashboard.test.mjs`.)

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::receiver::Receiver;
use crate::common::*;
use crate::support::*;

/// A browser's view of the dashboard: the client and the session cookie.
struct Session<'a> {
    app: &'a TestApp,
    cookie: String,
}

impl Session<'_> {
    async fn sign_in(app: &TestApp) -> Session<'_> {
        let response = app
            .client
            .post(format!("{}/dashboard/sign-in", app.base))
            .form(&[("token", OPERATOR_TOKEN)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()["location"], "/dashboard");
        let set_cookie = response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"));
        assert!(!set_cookie.contains(OPERATOR_TOKEN), "{set_cookie}");
        let cookie = set_cookie.split(';').next().unwrap().to_owned();
        Session { app, cookie }
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let response = self
            .app
            .client
            .get(format!("{}{path}", self.app.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        let status = response.status();
        if status == StatusCode::OK {
            let csp = response.headers()["content-security-policy"]
                .to_str()
                .unwrap();
            assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"));
        }
        (status, response.text().await.unwrap())
    }

    async fn page(&self, path: &str) -> String {
        let (status, html) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {html}");
        html
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.app
            .client
            .post(format!("{}{path}", self.app.base))
            .header("cookie", &self.cookie)
            .form(form)
            .send()
            .await
            .unwrap()
    }
}

/// The value of the first `name="…" value="…"` input in `html`.
fn input_value(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let at = html.find(&marker).unwrap();
    let rest = &html[at + marker.len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// The id of the event of type `event_type` in a link page's table of events.
fn event_of_type(html: &str, event_type: &str) -> String {
    let cell = html
        .find(&format!("<td>{event_type}</td>"))
        .unwrap_or_else(|| panic!("{event_type} in {html}"));
    let at = html[..cell].rfind("/dashboard/events/").unwrap() + "/dashboard/events/".len();
    let rest = &html[at..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// The event page once it shows `count` attempts (they are recorded just after they end).
async fn attempts_shown(session: &Session<'_>, path: &str, count: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let page = session.page(path).await;
        if page.matches(r#"<tr class="attempt">"#).count() == count {
            return page;
        }
        assert!(Instant::now() < deadline, "never {count} attempts: {page}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn walk(backend: Backend) {
    let Some(app) = operator_app(backend).await else {
        return;
    };
    let receiver = Receiver::start().await;
    let endpoint = endpoint(&app, &receiver.url, "link.refresh_intent.succeeded").await;
    let (link, token) = app.create_link("41614850-3").await;
    let link_id = link["id"].as_str().unwrap();
    let holder = link["holder_id"].as_str().unwrap();
    let intent = refresh(&app, json!({"link_token": token})).await;
    let intent_id = intent["id"].as_str().unwrap();
    wait_final(&app, &token, intent_id).await;
    // The link's first history's and the refresh's.
    receiver.wait_for(|r| r.len() >= 2).await;

    // Without a session: to the sign-in page; a wrong token is refused there.
    let response = app
        .request(Method::GET, "/dashboard/links", None, None)
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/dashboard/sign-in");
    let response = app
        .client
        .post(format!("{}/dashboard/sign-in", app.base))
        .form(&[("token", "not-the-operator-token")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get("set-cookie").is_none());
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("not the operator token"));

    let session = Session::sign_in(&app).await;
    let mut pages = Vec::new();
    let overview = session.page("/dashboard").await;
    assert!(
        overview.contains("acme") && overview.contains("Job queue"),
        "{overview}"
    );
    assert!(overview.contains("Institution health") && overview.contains("<svg"));
    pages.push(overview);

    // Search finds the link by holder id; nonsense finds nothing; odd parameters are no error.
    let found = session.page(&format!("/dashboard/links?q={holder}")).await;
    assert!(found.contains(link_id) && found.contains("TEST"), "{found}");
    let none = session.page("/dashboard/links?q=zzz-nothing").await;
    assert!(!none.contains(link_id) && none.contains("No link matches"));
    let odd = session.page("/dashboard/links?q=%25_%5C&page=abc").await;
    assert!(odd.contains("No link matches"), "{odd}");
    pages.extend([found, none]);

    // The link's page: the refresh's timeline and its accounts' outcomes, and its events.
    let detail = session.page(&format!("/dashboard/links/{link_id}")).await;
    for step in [
        "Created",
        "Started",
        "Finished",
        intent_id,
        "Accounts",
        "succeeded",
    ] {
        assert!(detail.contains(step), "{step}: {detail}");
    }
    let event_id = event_of_type(&detail, "link.refresh_intent.succeeded");
    pages.push(detail);
    let (status, _) = session.get("/dashboard/links/link_nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The event: its delivery's attempt; resend makes a new delivery with its own attempt.
    let event_path = format!("/dashboard/events/{event_id}");
    let event = attempts_shown(&session, &event_path, 1).await;
    assert!(event.contains("webhook-id: ") && event.contains("Took"));
    let csrf = input_value(&event, "csrf");
    let endpoint_id = endpoint["id"].as_str().unwrap();
    let resend_path = format!("{event_path}/resend");
    let refused = session
        .post(
            &resend_path,
            &[("csrf", "forged"), ("endpoint_id", endpoint_id)],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let resent = session
        .post(
            &resend_path,
            &[("csrf", &csrf), ("endpoint_id", endpoint_id)],
        )
        .await;
    assert_eq!(resent.status(), StatusCode::SEE_OTHER);
    pages.push(attempts_shown(&session, &event_path, 2).await);
    assert_eq!(
        receiver.received().len(),
        3,
        "the two events, and the one resent"
    );
    let stranger = session
        .post(&resend_path, &[("csrf", &csrf), ("endpoint_id", "we_nope")])
        .await;
    assert_eq!(stranger.status(), StatusCode::NOT_FOUND);

    // Bad input is a 4xx, never a 5xx: a form without its fields, odd ids.
    let empty = session.post(&resend_path, &[]).await;
    assert!(empty.status().is_client_error(), "{}", empty.status());
    let body: serde_json::Value = empty.json().await.unwrap();
    assert!(body["error"]["code"].is_string(), "{body}");
    for path in [
        "/dashboard/events/%00%ff",
        "/dashboard/links/%3Cscript%3E",
        "/dashboard/nothing-here",
    ] {
        let (status, page) = session.get(path).await;
        assert!(status.is_client_error(), "{path}: {status}");
        assert!(!page.contains("<script>"), "{path}: {page}");
    }

    // Endpoints with their health, and recover.
    let webhooks = session.page("/dashboard/webhooks").await;
    assert!(
        webhooks.contains(endpoint_id) && webhooks.contains("100% of 3"),
        "{webhooks}"
    );
    let recovered = session
        .post(
            &format!("/dashboard/webhooks/{endpoint_id}/recover"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(recovered.status(), StatusCode::SEE_OTHER);
    pages.push(webhooks);
    pages.push(session.page("/dashboard/events").await);

    // No secret in any page.
    for page in &pages {
        for secret in [
            app.keys.secret_key.as_str(),
            app.keys.public_key.as_str(),
            token.as_str(),
            endpoint["secret"].as_str().unwrap(),
            OPERATOR_TOKEN,
        ] {
            assert!(!page.contains(secret), "a secret in a page: {page}");
        }
    }

    // Signing out ends the session's cookie.
    let out = session
        .post("/dashboard/sign-out", &[("csrf", &csrf)])
        .await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(out.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_dashboard_walk() {
    walk(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_dashboard_walk() {
    walk(Backend::Postgres).await;
}
