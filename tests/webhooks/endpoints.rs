//! Webhook endpoints: CRUD, secrets, validation and the SSRF guard.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::support::*;
use crate::both_backends;
use crate::common::receiver::Receiver;
use crate::common::*;

both_backends! {
    async fn create_list_get_update_delete(app: TestApp) {
        let (created, secret) = endpoint(&app, "http://127.0.0.1:9/hook", json!(["account.refresh_intent.succeeded"])).await;
        assert!(secret.starts_with("whsec_"));
        let id = created["id"].as_str().unwrap();
        assert!(id.starts_with("we_"));
        assert_eq!(created["object"], "webhook_endpoint");
        assert_eq!(created["status"], "enabled");
        assert_eq!(created["mode"], "test");
        let (_, got) = app.get(&format!("/v1/webhook_endpoints/{id}")).await;
        assert!(got["secret"].is_null(), "the secret is shown only on creation");
        assert_eq!(got["enabled_events"], json!(["account.refresh_intent.succeeded"]));
        let (_, list) = app.get("/v1/webhook_endpoints").await;
        assert_eq!(list.as_array().unwrap().len(), 1);

        let path = format!("/v1/webhook_endpoints/{id}");
        let patch = |body| app.request(Method::PATCH, &path, Some(&app.keys.secret_key), Some(body));
        let (status, updated) = into_json(patch(json!({"url": "http://127.0.0.1:10/other", "enabled_events": ["*"],
            "description": "new", "disabled": true})).await).await;
        assert_eq!(status, StatusCode::OK, "{updated}");
        assert_eq!(updated["url"], "http://127.0.0.1:10/other");
        assert_eq!(updated["enabled_events"], json!(["*"]));
        assert_eq!(updated["description"], "new");
        assert_eq!(updated["status"], "disabled");
        assert_eq!(updated["disabled_reason"], "client");

        // Another organization sees nothing.
        let other = app.key_pair("globex", refresco::domain::Mode::Test).await;
        let (status, body) = into_json(app.request(Method::GET, &format!("/v1/webhook_endpoints/{id}"), Some(&other.secret_key), None).await).await;
        assert_error(status, &body, 404, "missing_resource");

        let (status, deleted) = into_json(app.request(Method::DELETE, &format!("/v1/webhook_endpoints/{id}"), Some(&app.keys.secret_key), None).await).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(deleted["deleted"], true);
        let (status, body) = app.get(&format!("/v1/webhook_endpoints/{id}")).await;
        assert_error(status, &body, 404, "missing_resource");
    }

    async fn bad_urls_and_unknown_event_types_are_refused(app: TestApp) {
        let app = &app;
        let create = |key: String, body: serde_json::Value| async move {
            into_json(app.request(Method::POST, "/v1/webhook_endpoints", Some(&key), Some(body)).await).await
        };
        let key = app.keys.secret_key.clone();
        for url in ["not a url", "ftp://example.com/x", "http://user:pass@example.com/x", "javascript:alert(1)", ""] {
            let (status, body) = create(key.clone(), json!({"url": url, "enabled_events": ["*"]})).await;
            assert!(status.is_client_error(), "{url}: {body}");
            assert_eq!(body["error"]["param"], "url", "{url}: {body}");
        }
        let long = format!("https://example.com/{}", "a".repeat(3000));
        let (status, body) = create(key.clone(), json!({"url": long, "enabled_events": ["*"]})).await;
        assert_error(status, &body, 400, "invalid_url");
        let (status, body) = create(key.clone(), json!({"url": "https://example.com/x", "enabled_events": ["account.nope"]})).await;
        assert_error(status, &body, 400, "invalid_webhook_subscription");
        let (status, body) = create(key.clone(), json!({"url": "https://example.com/x", "enabled_events": []})).await;
        assert_error(status, &body, 400, "invalid_webhook_subscription");
        let (status, body) = create(key.clone(), json!({"url": "https://example.com/x", "enabled_events": "*"})).await;
        assert_error(status, &body, 400, "invalid_params");

        // The document's URL pattern is what is accepted: queries and sub-delimiters yes; a
        // fragment, an IPv6 literal or a space no (in test mode too).
        for url in ["https://example.com/hook?token=abc&v=1", "HTTPS://example.com/a*b", "http://127.0.0.1:9/x"] {
            let (status, body) = create(key.clone(), json!({"url": url, "enabled_events": ["*"]})).await;
            assert_eq!(status, StatusCode::CREATED, "{url}: {body}");
        }
        for url in ["https://example.com/hook#part", "http://[::1]:9/hook", "https://example.com/a b", "https://example.com:99999/"] {
            let (status, body) = create(key.clone(), json!({"url": url, "enabled_events": ["*"]})).await;
            assert_error(status, &body, 400, "invalid_url");
        }

        // Live mode: https only, and no internal addresses.
        let live = app.key_pair("acme", refresco::domain::Mode::Live).await;
        // `localhost` is a name that resolves to loopback now: refused at creation too.
        for url in ["http://example.com/hook", "https://127.0.0.1/hook", "https://[::1]/hook",
                "https://169.254.169.254/latest", "https://localhost/hook", "https://localhost:8443/hook"] {
            let (status, body) = create(live.secret_key.clone(), json!({"url": url, "enabled_events": ["*"]})).await;
            assert_error(status, &body, 400, "invalid_url");
        }
        let (status, _) = create(live.secret_key.clone(), json!({"url": "https://example.com/hook", "enabled_events": ["*"]})).await;
        assert_eq!(status, StatusCode::CREATED);
    }

    async fn live_deliveries_to_names_resolving_inward_are_blocked(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let app = fast_app(backend, |c| c.webhook_max_retries = 0).await;
        let receiver = Receiver::start().await;
        // `localhost` is refused at creation now; a name can still point inward later (DNS
        // rebinding), so the endpoint is stored as if `localhost` had resolved outward then.
        let port = receiver.url.split(':').nth(2).unwrap().split('/').next().unwrap().to_owned();
        let live = app.key_pair("acme", refresco::domain::Mode::Live).await;
        let org = refresco::domain::OrganizationId::parse(&live.organization_id).unwrap();
        let endpoint_id = refresco::domain::WebhookEndpointId::generate();
        let endpoint = app.state.store.create_endpoint(&refresco::store::NewEndpoint {
            id: endpoint_id.clone(),
            organization_id: org.clone(),
            mode: refresco::domain::Mode::Live,
            url: format!("https://localhost:{port}/hook"),
            description: None,
            enabled_events: refresco::domain::EnabledEvents::All,
            sealed_secret: app.state.keys.seal(endpoint_id.as_str(), b"whsec_test"),
        }).await.unwrap();
        let event = refresco::domain::NewEvent::new(
            refresco::domain::EventType::LinkCredentialsChanged, None, &json!({})).unwrap();
        app.state.store.publish_events(&org, refresco::domain::Mode::Live, &[event]).await.unwrap();
        app.state.webhook_wake.notify_one();
        let id = endpoint.id.as_str();
        let mut log = serde_json::Value::Null;
        for _ in 0..500 {
            log = into_json(app.request(Method::GET, &format!("/v1/webhook_endpoints/{id}/attempts"), Some(&live.secret_key), None).await).await.1;
            if !log.as_array().unwrap().is_empty() { break; }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let attempt = &log[0];
        assert!(attempt["error"].as_str().unwrap().contains("internal addresses"), "{attempt}");
        assert!(receiver.received().is_empty(), "the request never left");
    }
}
