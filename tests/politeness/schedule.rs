//! Scheduled refreshes: one `only_last` intent per due link and interval, with the events of an
//! on-demand refresh; none for a link whose credentials were refused until they are updated;
//! herds of schedulers, in one process and in three.

use refresco::domain::LinkId;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;

use crate::both_backends;
use crate::common::{into_json, wait_final, Backend, TestApp};
use crate::support::*;

/// The scheduled refreshes of the link `link` (its JSON): due times in ms and intent ids.
async fn scheduled(app: &TestApp, link: &Value) -> Vec<(i64, String)> {
    let id = LinkId::parse(link["id"].as_str().unwrap()).unwrap();
    app.state
        .store
        .scheduled_refreshes(&id)
        .await
        .unwrap()
        .into_iter()
        .map(|(due, intent)| (due.millis(), intent.as_str().to_owned()))
        .collect()
}

/// The link's events of `type`.
async fn events_of(app: &TestApp, link: &Value, kind: &str) -> Vec<Value> {
    let (_, list) = app
        .get(&format!(
            "/v1/events?link_id={}&type={kind}&per_page=300",
            link["id"].as_str().unwrap()
        ))
        .await;
    list.as_array().unwrap().clone()
}

both_backends! {
    async fn a_due_link_gets_one_scheduled_only_last_refresh_with_its_events(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let app = app_with(backend, |_| {}).await;
        let (link, token) = app.create_link("41614850-3").await;
        let scheduler = scheduler(&app);
        assert!(scheduler.run_once(refresco::domain::Timestamp::now()).await.unwrap().is_empty(),
            "a new link is not due before half an interval");
        let at = hours_ahead(2);
        let created = scheduler.run_once(at).await.unwrap();
        assert_eq!(created.len(), 1, "the link is due");
        assert!(scheduler.run_once(at).await.unwrap().is_empty(), "once per due time");
        let id = created[0].as_str();
        let intent = wait_final(&app, &token, id).await;
        assert_eq!(intent["status"], "succeeded", "{intent}");
        assert_eq!(intent["type"], "only_last");
        assert_eq!(intent["refreshed_object_id"], link["id"]);
        assert_eq!(scheduled(&app, &link).await.len(), 1);

        // The events of an on-demand refresh: one per account, and the link's.
        let accounts = link["accounts"].as_array().unwrap().len();
        let link_level = events_of(&app, &link, "link.refresh_intent.succeeded").await;
        assert_eq!(link_level.iter().filter(|e| e["data"]["id"] == id).count(), 1);
        let account_level = events_of(&app, &link, "account.refresh_intent.succeeded").await;
        assert_eq!(account_level.iter().filter(|e| e["data"]["refresh_intent_id"] == id).count(), accounts);

        // A scheduled success reached the bank, so it starts the on-demand cooldown.
        let response = app.request(Method::POST, "/v1/refresh_intents", Some(&app.keys.secret_key),
            Some(json!({"link_token": token}))).await;
        let (status, body) = into_json(response).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    }

    async fn a_herd_of_schedulers_makes_one_intent_per_due_link(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let app = app_with(backend, |_| {}).await;
        let mut links = Vec::new();
        for _ in 0..4 {
            links.push(app.create_link("41614850-3").await);
        }
        let at = hours_ahead(2);
        let herd: Vec<_> = (0..8)
            .map(|_| {
                let scheduler = scheduler(&app);
                tokio::spawn(async move { scheduler.run_once(at).await.unwrap() })
            })
            .collect();
        let mut created = Vec::new();
        for one in herd {
            created.extend(one.await.unwrap());
        }
        assert_eq!(created.len(), links.len(), "{created:?}");
        for (link, token) in &links {
            let ours = scheduled(&app, link).await;
            assert_eq!(ours.len(), 1, "{ours:?}");
            let intent = wait_final(&app, token, &ours[0].1).await;
            assert_eq!(intent["status"], "succeeded");
        }
    }

    async fn a_rejected_link_is_not_scheduled_until_its_credentials_are_updated(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let app = app_with(backend, |_| {}).await;
        // Refused from its first refresh after the history on.
        let (link, token) = app
            .create_link_with(&app.keys.secret_key, "cl_banco_sandbox", "41614850-3", "jonsnow+invalid@1")
            .await;
        let scheduler = scheduler(&app);
        let created = scheduler.run_once(hours_ahead(2)).await.unwrap();
        assert_eq!(created.len(), 1);
        let intent = wait_final(&app, &token, created[0].as_str()).await;
        assert_eq!(intent["status"], "rejected", "{intent}");
        // Due again (at most 1.1 interval later), but refused credentials are not tried.
        assert!(scheduler.run_once(hours_ahead(4)).await.unwrap().is_empty());
        assert_eq!(scheduled(&app, &link).await.len(), 1);

        let response = app.request(Method::PATCH, &format!("/v1/links/{token}"),
            Some(&app.keys.secret_key), Some(json!({"password": "jonsnow"}))).await;
        let (status, body) = into_json(response).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let created = scheduler.run_once(hours_ahead(6)).await.unwrap();
        assert_eq!(created.len(), 1, "scheduled again once the credentials work");
    }

    async fn scheduled_refreshes_follow_a_tiny_interval(app: TestApp) {
        let backend = app.backend;
        drop(app);
        const INTERVAL: i64 = 300;
        let app = app_with(backend, |c| {
            c.refresh_interval_ms = INTERVAL as u64;
            c.scheduler_poll_ms = 20;
            // Else a scheduled success holds the next one back (see docs/politeness.md).
            c.cooldown_only_last_secs = 0;
        })
        .await;
        let (link, token) = app.create_link("41614850-3").await;
        let runs = eventually("three scheduled refreshes", || async {
            let runs = scheduled(&app, &link).await;
            (runs.len() >= 3).then_some(runs)
        })
        .await;
        for pair in runs.windows(2) {
            assert!(pair[1].0 - pair[0].0 >= INTERVAL * 9 / 10, "{runs:?}");
        }
        for (_, id) in &runs {
            let intent = wait_final(&app, &token, id).await;
            assert_eq!(intent["type"], "only_last");
            assert_eq!(intent["status"], "succeeded", "{intent}");
        }
    }

    async fn an_organization_has_its_own_interval(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let app = app_with(backend, |_| {}).await;
        let (link, _) = app.create_link("41614850-3").await;
        let acme = app.keys.organization_id.clone();
        // Off for this organization (on for the others): no schedule, no intent.
        let off = scheduler_with(&app, |c| { c.refresh_interval_by_organization.insert(acme.clone(), 0); });
        assert!(off.run_once(hours_ahead(2)).await.unwrap().is_empty());
        assert!(scheduled(&app, &link).await.is_empty());
        // Off for every organization but this one, whose interval is two hours: its first due
        // time is one to two hours after the link's creation.
        let only = scheduler_with(&app, |c| {
            c.refresh_interval_ms = 0;
            c.refresh_interval_by_organization.insert(acme.clone(), 2 * 3_600_000);
        });
        assert!(only.run_once(hours_ahead(0)).await.unwrap().is_empty());
        assert_eq!(only.run_once(hours_ahead(2)).await.unwrap().len(), 1);
    }

}

/// With the API process and two worker processes scheduling the same PostgreSQL database every
/// 10 ms, each link still gets one scheduled refresh per due time, spaced by the interval, and
/// no other intent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_schedule_each_link_once_per_interval() {
    const INTERVAL: i64 = 400;
    let settings = [
        ("REFRESCO_REFRESH_INTERVAL_MS", INTERVAL.to_string()),
        ("REFRESCO_SCHEDULER_POLL_MS", "10".to_owned()),
        ("REFRESCO_COOLDOWN_ONLY_LAST_SECS", "0".to_owned()),
    ];
    let Some(app) = TestApp::start_with(Backend::Postgres, |c| {
        c.refresh_interval_ms = INTERVAL as u64;
        c.scheduler_poll_ms = 10;
        c.cooldown_only_last_secs = 0;
    })
    .await
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut env: Vec<(&str, String)> = settings.to_vec();
    env.push((
        "REFRESCO_DATA_DIR",
        app.config.data_dir.to_str().unwrap().to_owned(),
    ));
    env.push((
        "REFRESCO_DATABASE_URL",
        app.config
            .database_url
            .as_ref()
            .unwrap()
            .expose()
            .to_owned(),
    ));
    let workers: Vec<_> = (1..=2)
        .map(|n| {
            crate::process::spawn(
                dir.path(),
                &format!("worker{n}"),
                &["--role", "worker"],
                &env,
            )
        })
        .collect();
    let mut links = Vec::new();
    for _ in 0..6 {
        links.push(app.create_link("41614850-3").await);
    }
    for (link, _) in &links {
        eventually("four scheduled refreshes of every link", || async {
            (scheduled(&app, link).await.len() >= 4).then_some(())
        })
        .await;
    }
    let logs: Vec<usize> = workers
        .into_iter()
        .map(|worker| {
            let path = worker.stderr.clone();
            worker.stop();
            std::fs::read_to_string(path)
                .unwrap()
                .matches("scheduled refresh created")
                .count()
        })
        .collect();
    eprintln!("scheduled refreshes created by the worker processes: {logs:?}");
    assert!(
        logs.iter().sum::<usize>() > 0,
        "the worker processes took part"
    );
    for (link, token) in &links {
        // The API process still schedules: read the intents before the schedule.
        let only_last: BTreeSet<String> = intents(&app, token)
            .await
            .iter()
            .filter(|i| i["type"] == "only_last")
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect();
        let runs = scheduled(&app, link).await;
        for pair in runs.windows(2) {
            assert!(pair[1].0 - pair[0].0 >= INTERVAL * 9 / 10, "{runs:?}");
        }
        let ids: BTreeSet<String> = runs.iter().map(|(_, id)| id.clone()).collect();
        assert!(
            only_last.is_subset(&ids),
            "every only_last intent is a scheduled refresh"
        );
        assert!(only_last.len() >= 4);
    }
}

/// A scheduler of `app`'s engine under another configuration (what another process started
/// with it would run).
fn scheduler_with(
    app: &TestApp,
    adjust: impl FnOnce(&mut refresco::Config),
) -> refresco::engine::scheduler::Scheduler {
    let engine = &app.state.engine;
    let mut config = (*engine.config).clone();
    adjust(&mut config);
    refresco::engine::scheduler::Scheduler::new(std::sync::Arc::new(
        refresco::engine::EngineContext {
            store: engine.store.clone(),
            keys: engine.keys.clone(),
            registry: engine.registry.clone(),
            config: std::sync::Arc::new(config),
            wake: tokio::sync::Notify::new(),
            webhook_wake: engine.webhook_wake.clone(),
        },
    ))
}
