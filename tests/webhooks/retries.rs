//! Delivery: retries on schedule, Retry-After, 410, automatic disabling, resend, recover, a
//! restart in the middle of a backlog, and slow or broken receivers that never stall others.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use super::support::*;
use crate::both_backends;
use crate::common::receiver::{verify, Receiver, Reply};
use crate::common::*;

async fn endpoint_status(app: &TestApp, id: &str) -> serde_json::Value {
    app.get(&format!("/v1/webhook_endpoints/{id}")).await.1
}

both_backends! {
    async fn a_flaky_receiver_gets_retries_on_schedule_each_freshly_signed(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let app = fast_app(backend, |_| {}).await;
        let (receiver, endpoint_id, secret) = receiver_endpoint(&app).await;
        receiver.script([Reply::Status(500), Reply::Status(502), Reply::Status(200)]);
        let event = trigger(&app, "link.credentials_changed").await;
        let received = receiver.wait_for(|r| r.len() >= 3).await;
        assert!(received.iter().all(|d| d.json()["id"] == event["id"]), "the same event each time");
        assert!(received.iter().all(|d| d.body == received[0].body), "the exact same bytes");
        for delivery in &received {
            verify(delivery, &secret);
        }
        // Exponential backoff from 100 ms with ±20% jitter: at least 80 ms, then 160 ms.
        assert!(received[1].at - received[0].at >= Duration::from_millis(80));
        assert!(received[2].at - received[1].at >= Duration::from_millis(160));
        let log = attempts_at_least(&app, &endpoint_id, 3).await;
        let codes: Vec<_> = log.iter().map(|a| a["status_code"].as_i64()).collect();
        assert_eq!(codes, vec![Some(500), Some(502), Some(200)]);
        assert_eq!(log.iter().map(|a| a["succeeded"].as_bool().unwrap()).collect::<Vec<_>>(), vec![false, false, true]);
        assert!(log.iter().all(|a| a["latency_ms"].as_i64().unwrap() >= 0 && a["event_id"] == event["id"]));
        let (_, by_event) = app.get(&format!("/v1/events/{}/attempts", event["id"].as_str().unwrap())).await;
        assert_eq!(by_event.as_array().unwrap().len(), 3);
        assert_eq!(endpoint_status(&app, &endpoint_id).await["status"], "enabled");
    }

    async fn retry_after_is_honoured(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let app = fast_app(backend, |_| {}).await;
        let (receiver, _, _) = receiver_endpoint(&app).await;
        receiver.script([Reply::RetryAfter(503, 1)]);
        trigger(&app, "link.credentials_changed").await;
        let received = receiver.wait_for(|r| r.len() >= 2).await;
        // Without Retry-After the retry would come after ~100 ms.
        assert!(received[1].at - received[0].at >= Duration::from_millis(950));
    }

    async fn gone_disables_the_endpoint(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let app = fast_app(backend, |_| {}).await;
        let (receiver, endpoint_id, _) = receiver_endpoint(&app).await;
        receiver.script([Reply::Status(410)]);
        trigger(&app, "link.credentials_changed").await;
        receiver.wait_for(|r| !r.is_empty()).await;
        let mut endpoint = endpoint_status(&app, &endpoint_id).await;
        for _ in 0..500 {
            if endpoint["status"] == "disabled" { break; }
            tokio::time::sleep(Duration::from_millis(20)).await;
            endpoint = endpoint_status(&app, &endpoint_id).await;
        }
        assert_eq!(endpoint["status"], "disabled");
        assert_eq!(endpoint["disabled_reason"], "gone");
        trigger(&app, "link.credentials_changed").await;
        assert_eq!(app.state.store.pending_deliveries().await.unwrap(), 0, "nothing queued for it");
        // Re-enabling works.
        let (_, enabled) = into_json(app.request(Method::PATCH, &format!("/v1/webhook_endpoints/{endpoint_id}"),
            Some(&app.keys.secret_key), Some(json!({"disabled": false}))).await).await;
        assert_eq!(enabled["status"], "enabled");
        trigger(&app, "link.credentials_changed").await;
        receiver.wait_for(|r| r.len() >= 2).await;
    }

    async fn an_endpoint_failing_too_long_is_disabled(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let app = fast_app(backend, |c| c.webhook_disable_after_secs = 1).await;
        let (receiver, endpoint_id, _) = receiver_endpoint(&app).await;
        receiver.default_reply(Reply::Status(500));
        trigger(&app, "link.credentials_changed").await;
        let mut endpoint = endpoint_status(&app, &endpoint_id).await;
        for _ in 0..1000 {
            if endpoint["status"] == "disabled" { break; }
            tokio::time::sleep(Duration::from_millis(20)).await;
            endpoint = endpoint_status(&app, &endpoint_id).await;
        }
        assert_eq!(endpoint["status"], "disabled", "{endpoint}");
        assert_eq!(endpoint["disabled_reason"], "failing");
        assert!(receiver.received().len() >= 2, "it was retried before being disabled");
    }

    async fn resend_and_recover(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let app = fast_app(backend, |c| c.webhook_max_retries = 1).await;
        let (receiver, endpoint_id, secret) = receiver_endpoint(&app).await;
        let first = trigger(&app, "account.refresh_intent.succeeded").await;
        receiver.wait_for(|r| !r.is_empty()).await;
        let (status, queued) = into_json(app.request(Method::POST, &format!("/v1/webhook_endpoints/{endpoint_id}/resend"),
            Some(&app.keys.secret_key), Some(json!({"event_id": first["id"]}))).await).await;
        assert_eq!(status.as_u16(), 202, "{queued}");
        let received = receiver.wait_for(|r| r.len() >= 2).await;
        assert_eq!(received[1].json()["id"], first["id"]);
        verify(&received[1], &secret);

        // Everything fails for good (one retry), then the receiver is fixed and we recover.
        receiver.default_reply(Reply::Status(500));
        let since = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let failed: HashSet<String> = [trigger(&app, "link.refresh_intent.failed").await, trigger(&app, "link.credentials_changed").await]
            .iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect();
        receiver.wait_for(|r| r.len() >= 2 + 4).await;
        for _ in 0..500 {
            if app.state.store.pending_deliveries().await.unwrap() == 0 { break; }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(app.state.store.pending_deliveries().await.unwrap(), 0, "given up after 1 retry");
        receiver.default_reply(Reply::Status(200));
        let (status, body) = into_json(app.request(Method::POST, &format!("/v1/webhook_endpoints/{endpoint_id}/recover"),
            Some(&app.keys.secret_key), Some(json!({"since": since}))).await).await;
        assert_eq!(status.as_u16(), 202);
        assert_eq!(body["recovered"], 2);
        let received = receiver.wait_for(|r| r.len() >= 8).await;
        let recovered: HashSet<String> = received[6..].iter().map(|d| d.json()["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(recovered, failed);
    }

    async fn a_restart_in_the_middle_of_a_backlog_loses_nothing(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let mut app = fast_app(backend, |c| c.webhook_per_endpoint_concurrency = 2).await;
        let (receiver, _, _) = receiver_endpoint(&app).await;
        receiver.default_reply(Reply::Slow(Duration::from_millis(30)));
        let mut ids = HashSet::new();
        for _ in 0..40 {
            ids.insert(trigger(&app, "link.credentials_changed").await["id"].as_str().unwrap().to_owned());
        }
        receiver.wait_for(|r| r.len() >= 5).await;
        app.restart().await;
        let received = receiver.wait_for(|r| {
            r.iter().map(|d| d.json()["id"].as_str().unwrap().to_owned()).collect::<HashSet<_>>().len() >= 40
        }).await;
        let got: HashSet<String> = received.iter().map(|d| d.json()["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(got, ids, "every event of the backlog arrived");
    }

    async fn slow_huge_and_broken_receivers_never_stall_the_others(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let app = fast_app(backend, |c| {
            c.webhook_timeout_ms = 300;
            c.webhook_max_retries = 0;
        }).await;
        let slow = Receiver::start().await;
        slow.default_reply(Reply::Slow(Duration::from_secs(5)));
        let (slow_endpoint, _) = endpoint(&app, &slow.url, json!(["*"])).await;
        let huge = Receiver::start().await;
        huge.default_reply(Reply::Huge(8 * 1024 * 1024));
        let (huge_endpoint, _) = endpoint(&app, &huge.url, json!(["*"])).await;
        // A "server" that answers garbage and hangs up.
        let garbage = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let garbage_url = format!("http://{}/hook", garbage.local_addr().unwrap());
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            while let Ok((mut socket, _)) = garbage.accept().await {
                let _ = socket.write_all(b"\x00\x01NOT HTTP AT ALL\r\n\r\n").await;
            }
        });
        let (garbage_endpoint, _) = endpoint(&app, &garbage_url, json!(["*"])).await;
        let fast = Receiver::start().await;
        endpoint(&app, &fast.url, json!(["*"])).await;

        for _ in 0..10 {
            trigger(&app, "link.credentials_changed").await;
        }
        fast.wait_for(|r| r.len() >= 10).await;
        let attempts_of = |endpoint: &serde_json::Value| {
            let id = endpoint["id"].as_str().unwrap().to_owned();
            let app = &app;
            async move { attempts(app, &id).await }
        };
        // The slow endpoint needs at least three rounds of 300 ms timeouts (4 in flight at a
        // time): the fast one was served while it was still stuck.
        assert!(attempts_of(&slow_endpoint).await.len() < 10, "the fast receiver did not wait for the slow one");
        // Every failure is recorded, none blocks the queue.
        for _ in 0..500 {
            if app.state.store.pending_deliveries().await.unwrap() == 0 { break; }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(app.state.store.pending_deliveries().await.unwrap(), 0, "nothing stuck");
        let slow_log = attempts_of(&slow_endpoint).await;
        assert_eq!(slow_log.len(), 10);
        assert!(slow_log.iter().all(|a| a["error"].as_str().unwrap().starts_with("timeout")), "{slow_log:?}");
        let huge_log = attempts_of(&huge_endpoint).await;
        assert!(huge_log.iter().all(|a| a["status_code"] == 200 && a["response_body"].as_str().unwrap().len() <= 1024));
        let garbage_log = attempts_of(&garbage_endpoint).await;
        assert_eq!(garbage_log.len(), 10);
        assert!(garbage_log.iter().all(|a| a["succeeded"] == false && a["status_code"].is_null() && a["error"].is_string()));
    }
}
