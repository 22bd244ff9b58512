//! Accounts and movements: lists, filters, pagination, retrieval.

use reqwest::StatusCode;
use serde_json::Value;

use super::links::link_rels;
use crate::both_backends;
use crate::common::*;

async fn first_account(app: &TestApp, token: &str) -> Value {
    let (status, accounts) = app.get(&format!("/v1/accounts?link_token={token}")).await;
    assert_eq!(status, StatusCode::OK, "{accounts}");
    accounts[0].clone()
}

/// Every movement of an account (all statuses), following `next` links.
async fn crawl(app: &TestApp, first_url: String) -> (Vec<Value>, usize) {
    let mut all = Vec::new();
    let mut pages = 0;
    let mut next = Some(first_url);
    while let Some(url) = next {
        let response = app
            .client
            .get(&url)
            .header("Authorization", &app.keys.secret_key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let total: usize = response.headers()["x-total-count"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let rels = link_rels(response.headers()["link"].to_str().unwrap());
        next = rels
            .iter()
            .find(|(r, _)| r == "next")
            .map(|(_, u)| u.clone());
        let page: Vec<Value> = response.json().await.unwrap();
        all.extend(page);
        pages += 1;
        if next.is_none() {
            assert_eq!(
                all.len(),
                total,
                "X-Total-Count matches what the pages hold"
            );
        }
    }
    (all, pages)
}

both_backends! {
    async fn accounts_list_and_get(app: TestApp) {
        let (link, token) = app.create_link("41614850-3").await;
        let (status, accounts) = app.get(&format!("/v1/accounts?link_token={token}&per_page=1")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(accounts.as_array().unwrap().len(), 1);
        let (_, all) = app.get(&format!("/v1/accounts?link_token={token}")).await;
        assert_eq!(all.as_array().unwrap().len(), link["accounts"].as_array().unwrap().len());
        let account = &all[0];
        for field in ["id", "object", "balance", "currency", "holder_id", "holder_name", "name",
            "next_refresh", "number", "official_name", "refresh_status", "refreshed_at",
            "removed_from_link", "type"] {
            assert!(account.get(field).is_some(), "account has {field}: {account}");
        }
        let id = account["id"].as_str().unwrap();
        let (status, one) = app.get(&format!("/v1/accounts/{id}?link_token={token}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(&one, account);
        let (status, body) = app.get(&format!("/v1/accounts/acc_doesnotexist?link_token={token}")).await;
        assert_error(status, &body, 404, "missing_resource");
        let (status, body) = app.get("/v1/accounts").await;
        assert_error(status, &body, 400, "missing_parameter");
    }

    async fn movements_paginate_over_many_pages(app: TestApp) {
        let (_, token) = app.create_link("41614850-3").await;
        let account = first_account(&app, &token).await;
        let id = account["id"].as_str().unwrap();
        let url = format!("{}/v1/accounts/{id}/movements?account_id={id}&link_token={token}&confirmed_only=false&per_page=50", app.base);
        let (all, pages) = crawl(&app, url).await;
        assert!(pages >= 3, "history spans several pages ({pages})");
        let ids: std::collections::HashSet<_> = all.iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(ids.len(), all.len(), "no movement repeats across pages");
        let dates: Vec<&str> = all.iter().map(|m| m["post_date"].as_str().unwrap()).collect();
        assert!(dates.windows(2).all(|w| w[0] >= w[1]), "newest first");
        for m in &all {
            assert!(m["id"].as_str().unwrap().starts_with("mov_"));
            assert!(m["amount"].is_i64());
            assert!(["transfer", "check", "other"].contains(&m["type"].as_str().unwrap()), "{m}");
        }
        // Default page size is 30; a too-large per_page is clamped to 300.
        let (_, page) = app.get(&format!("/v1/accounts/{id}/movements?link_token={token}&confirmed_only=false")).await;
        assert_eq!(page.as_array().unwrap().len(), 30.min(all.len()));
        let (_, page) = app.get(&format!("/v1/accounts/{id}/movements?link_token={token}&confirmed_only=false&per_page=5000")).await;
        assert_eq!(page.as_array().unwrap().len(), 300.min(all.len()));
    }

    async fn movements_filters(app: TestApp) {
        let (_, token) = app.create_link("40427672-7").await;
        let account = first_account(&app, &token).await;
        let id = account["id"].as_str().unwrap();
        let base = format!("{}/v1/accounts/{id}/movements?link_token={token}&per_page=300", app.base);
        let (every, _) = crawl(&app, format!("{base}&confirmed_only=false")).await;
        let (confirmed, _) = crawl(&app, base.clone()).await;
        assert!(confirmed.iter().all(|m| m["status"] == "confirmed"), "default is confirmed only");
        let unconfirmed = every.iter().filter(|m| m["status"] != "confirmed").count();
        assert_eq!(confirmed.len() + unconfirmed, every.len());

        // since is inclusive, until exclusive, on post_date.
        let mut dates: Vec<&str> = every.iter().map(|m| &m["post_date"].as_str().unwrap()[..10]).collect();
        dates.sort();
        dates.dedup();
        assert!(dates.len() > 4, "enough distinct days");
        let (since, until) = (dates[1], dates[dates.len() - 2]);
        let (window, _) = crawl(&app, format!("{base}&confirmed_only=false&since={since}&until={until}")).await;
        let expected = every.iter().filter(|m| {
            let d = &m["post_date"].as_str().unwrap()[..10];
            d >= since && d < until
        }).count();
        assert_eq!(window.len(), expected);
        assert!(window.iter().all(|m| { let d = &m["post_date"].as_str().unwrap()[..10]; d >= since && d < until }));
        assert!(expected > 0 && expected < every.len());

        let (status, body) = app.get(&format!("/v1/accounts/{id}/movements?link_token={token}&since=yesterday")).await;
        assert_error(status, &body, 400, "invalid_date");
        assert_eq!(body["error"]["param"], "since");
        let (status, body) = app.get(&format!("/v1/accounts/{id}/movements?link_token={token}&confirmed_only=maybe")).await;
        assert_error(status, &body, 400, "invalid_boolean");
    }

    async fn movement_retrieve(app: TestApp) {
        let (_, token) = app.create_link("41579263-8").await;
        let account = first_account(&app, &token).await;
        let id = account["id"].as_str().unwrap();
        let (_, page) = app.get(&format!("/v1/accounts/{id}/movements?link_token={token}")).await;
        let movement = &page[0];
        let mid = movement["id"].as_str().unwrap();
        let (status, got) = app.get(&format!("/v1/accounts/{id}/movements/{mid}?link_token={token}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(&got, movement);
        for field in ["amount", "comment", "currency", "description", "pending", "post_date",
            "recipient_account", "reference_id", "sender_account", "status", "transaction_date", "type"] {
            assert!(got.get(field).is_some(), "movement has {field}");
        }
        // A movement of another account of the same link is not reachable through this one.
        let (_, accounts) = app.get(&format!("/v1/accounts?link_token={token}")).await;
        let other = accounts[1]["id"].as_str().unwrap();
        let (status, body) = app.get(&format!("/v1/accounts/{other}/movements/{mid}?link_token={token}")).await;
        assert_error(status, &body, 404, "missing_resource");
    }
}
