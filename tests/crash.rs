//! Crash tests on the real binary: `kill -9` a process while 100 refreshes are at a slow bank,
//! restart, and check every intent ends final with exactly the right movements, none
//! duplicated. SQLite: one process killed and restarted. PostgreSQL: an API process and two
//! worker processes, one of them killed; the other takes over its jobs.
// A test that meets an unexpected error should fail on the spot, naming where.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

#[path = "common/postgres.rs"]
mod postgres;
#[path = "common/process.rs"]
mod process;
use process::spawn;

use refresco::config::{DatabaseTarget, Secret};
use refresco::domain::RefreshIntentId;
use refresco::store::Store;
use serde_json::{json, Value};

const LINKS: usize = 100;

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn post(base: &str, key: &str, path: &str, body: Value) -> (u16, Value) {
    let r = client()
        .post(format!("{base}{path}"))
        .header("Authorization", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn get(base: &str, key: &str, path: &str) -> Value {
    client()
        .get(format!("{base}{path}"))
        .header("Authorization", key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Creates `LINKS` links through `base` and waits for their first histories (a worker must
/// run); returns their tokens.
async fn create_links(base: &str, key: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    for chunk in (0..LINKS).collect::<Vec<_>>().chunks(10) {
        let calls = chunk.iter().map(|_| {
            post(
                base,
                key,
                "/v1/links",
                json!({
            "institution_id": "cl_banco_sandbox", "username": "41614850-3",
            "password": "jonsnow+instant+changes"}),
            )
        });
        for (status, link) in futures_join(calls).await {
            assert_eq!(status, 201, "{link}");
            tokens.push(link["link_token"].as_str().unwrap().to_owned());
        }
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    for token in &tokens {
        loop {
            let intents = get(
                base,
                key,
                &format!("/v1/refresh_intents?link_token={token}"),
            )
            .await;
            let list = intents.as_array().unwrap();
            if list.iter().all(|i| i["status"] == "succeeded") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "a first history never ended: {intents}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    tokens
}

async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let handles: Vec<_> = futures.collect();
    let mut out = Vec::new();
    for f in handles {
        out.push(f.await);
    }
    out
}

/// Creates one intent per link; returns the ids.
async fn create_intents(base: &str, key: &str, tokens: &[String]) -> Vec<String> {
    let mut ids = Vec::new();
    for token in tokens {
        let (status, intent) = post(
            base,
            key,
            "/v1/refresh_intents",
            json!({"link_token": token}),
        )
        .await;
        assert_eq!(status, 201, "{intent}");
        ids.push(intent["id"].as_str().unwrap().to_owned());
    }
    ids
}

/// Waits until every intent is final; returns them.
async fn wait_all_final(base: &str, key: &str, tokens: &[String], ids: &[String]) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut done = Vec::new();
    for (token, id) in tokens.iter().zip(ids) {
        loop {
            let intent = get(
                base,
                key,
                &format!("/v1/refresh_intents/{id}?link_token={token}"),
            )
            .await;
            if intent["status"] != "created" {
                done.push(intent);
                break;
            }
            assert!(Instant::now() < deadline, "intent never finished: {intent}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    done
}

fn wire_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The kill hit work in progress: intents had started before it and finished after it.
fn assert_in_flight_at(intents: &[Value], killed_at: &str) {
    let in_flight = intents
        .iter()
        .filter(|i| {
            i["started_at"].as_str().is_some_and(|s| s < killed_at)
                && i["finished_at"].as_str().is_some_and(|f| f > killed_at)
        })
        .count();
    assert!(
        in_flight >= 10,
        "only {in_flight} intents were in flight when the process died"
    );
}

/// Movements per account of each link (all statuses), with duplicate ids rejected.
async fn movement_counts(base: &str, key: &str, tokens: &[String]) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    for token in tokens {
        let accounts = get(base, key, &format!("/v1/accounts?link_token={token}")).await;
        let mut counts = Vec::new();
        for account in accounts.as_array().unwrap() {
            let aid = account["id"].as_str().unwrap();
            let movements = get(base, key, &format!(
                "/v1/accounts/{aid}/movements?link_token={token}&confirmed_only=false&per_page=300")).await;
            let list = movements.as_array().unwrap();
            let ids: std::collections::HashSet<_> =
                list.iter().map(|m| m["id"].as_str().unwrap()).collect();
            assert_eq!(ids.len(), list.len(), "no duplicate movement");
            counts.push(list.len());
        }
        out.push(counts);
    }
    out
}

/// Every intent succeeded once, with exactly the scenario's changes and no duplicates.
async fn assert_exactly_right(
    base: &str,
    key: &str,
    store: &Store,
    tokens: &[String],
    intents: &[Value],
    before: &[Vec<usize>],
) {
    let after = movement_counts(base, key, tokens).await;
    for ((counts_before, counts_after), intent) in before.iter().zip(&after).zip(intents) {
        let expected: Vec<usize> = counts_before.iter().map(|n| n + 2 - 1).collect();
        assert_eq!(
            counts_after, &expected,
            "2 new and 1 removed per account, once: {intent}"
        );
    }
    for intent in intents {
        assert_eq!(intent["status"], "succeeded", "{intent}");
        // `+instant+changes`: 2 accounts × (2 new, 1 modified, 1 removed).
        assert_eq!(intent["new_movements"], 4, "{intent}");
        let id = RefreshIntentId::parse(intent["id"].as_str().unwrap()).unwrap();
        let results = store.account_results(&id).await.unwrap();
        assert_eq!(
            results.len(),
            2,
            "one result per account, recorded once: {results:?}"
        );
        assert!(
            results.iter().all(|r| (r.3, r.4, r.5) == (2, 1, 1)),
            "{results:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_kill_9_and_restart_finishes_every_intent() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let common = |latency: &str| {
        vec![
            ("REFRESCO_JOB_LEASE_SECS", "2".to_owned()),
            ("REFRESCO_SANDBOX_LATENCY_MS", latency.to_owned()),
            ("REFRESCO_COOLDOWN_ONLY_LAST_SECS", "0".to_owned()),
        ]
    };

    let first = spawn(dir.path(), "first", &["--data-dir", data_arg], &common("0"));
    let key = first.secret_key();
    let tokens = create_links(&first.addr, &key).await;
    let before = movement_counts(&first.addr, &key, &tokens).await;
    first.stop();

    // The bank now takes 1.5 s per call: every refresh is in flight when the process dies.
    let slow = spawn(
        dir.path(),
        "slow",
        &["--data-dir", data_arg],
        &common("1500"),
    );
    let ids = create_intents(&slow.addr, &key, &tokens).await;
    let killed_at = wire_now();
    slow.kill_9();

    let restarted = spawn(
        dir.path(),
        "restarted",
        &["--data-dir", data_arg],
        &common("0"),
    );
    let intents = wait_all_final(&restarted.addr, &key, &tokens, &ids).await;
    assert_in_flight_at(&intents, &killed_at);
    let store = Store::open(&DatabaseTarget::Sqlite(data.join("refresco.db")), false)
        .await
        .unwrap();
    assert_exactly_right(&restarted.addr, &key, &store, &tokens, &intents, &before).await;
    restarted.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_workers_one_killed_the_other_takes_over() {
    let Some(database) = postgres::fresh_database("crash").await else {
        return;
    };
    let url = database.url.clone();

    let dir = tempfile::tempdir().unwrap();
    let data_arg = dir.path().join("data");
    let data_arg = data_arg.to_str().unwrap().to_owned();
    let env = |latency: &str| {
        vec![
            ("REFRESCO_DATABASE_URL", url.clone()),
            ("REFRESCO_DATA_DIR", data_arg.clone()),
            ("REFRESCO_JOB_LEASE_SECS", "2".to_owned()),
            ("REFRESCO_SANDBOX_LATENCY_MS", latency.to_owned()),
            ("REFRESCO_WORKER_CONCURRENCY", "100".to_owned()),
        ]
    };
    let api = spawn(
        dir.path(),
        "api",
        &["--migrate", "--role", "api"],
        &env("0"),
    );
    let key = api.secret_key();
    // A worker for the links' first histories, stopped before the refreshes.
    let historian = spawn(dir.path(), "historian", &["--role", "worker"], &env("0"));
    let tokens = create_links(&api.addr, &key).await;
    historian.stop();
    let before = movement_counts(&api.addr, &key, &tokens).await;
    let doomed = spawn(dir.path(), "worker1", &["--role", "worker"], &env("1500"));
    let ids = create_intents(&api.addr, &key, &tokens).await;
    // Let the doomed worker claim its share, then start the survivor and kill the first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let survivor = spawn(dir.path(), "worker2", &["--role", "worker"], &env("200"));
    let killed_at = wire_now();
    doomed.kill_9();

    let intents = wait_all_final(&api.addr, &key, &tokens, &ids).await;
    assert_in_flight_at(&intents, &killed_at);
    let store = Store::open(&DatabaseTarget::Postgres(Secret::new(url.clone())), false)
        .await
        .unwrap();
    assert_exactly_right(&api.addr, &key, &store, &tokens, &intents, &before).await;
    store.close().await;
    survivor.stop();
    api.stop();
}
