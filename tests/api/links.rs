//! Links: create, list (paginated), retrieve, update, delete.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends_and_connector;
use crate::common::*;

/// Parses `Link: <url>; rel="x", …` into (rel, url) pairs.
pub fn link_rels(header: &str) -> Vec<(String, String)> {
    header
        .split(", ")
        .map(|part| {
            let (url, rel) = part.split_once(">; rel=\"").expect("part shape");
            (
                rel.trim_end_matches('"').to_owned(),
                url.trim_start_matches('<').to_owned(),
            )
        })
        .collect()
}

both_backends_and_connector! {
    async fn create_returns_token_accounts_and_institution(app: TestApp) {
        let (link, token) = app.create_link("41614850-3").await;
        assert!(link["id"].as_str().unwrap().starts_with("link_"));
        assert_eq!(link["object"], "link");
        assert!(token.starts_with(&format!("{}_token_", link["id"].as_str().unwrap())));
        assert_eq!(link["institution"]["id"], "cl_banco_sandbox");
        assert_eq!(link["institution"]["country"], "cl");
        assert_eq!(link["holder_id"], "416148503");
        // As Fintoc shows a RUT login: without dots or hyphen.
        assert_eq!(link["username"], "416148503");
        assert_eq!(link["mode"], "test");
        assert_eq!(link["active"], true);
        assert_eq!(link["status"], "active");
        let accounts = link["accounts"].as_array().unwrap();
        assert!(accounts.len() >= 2, "several accounts: {link}");
        for account in accounts {
            assert!(account["id"].as_str().unwrap().starts_with("acc_"));
            assert_eq!(account["currency"], "CLP");
            assert!(account["balance"]["available"].is_i64());
        }
        let created_at = link["created_at"].as_str().unwrap();
        assert!(created_at.ends_with('Z') && created_at.len() == 24, "{created_at}");
    }

    async fn create_rejects_bad_credentials_and_live_keys(app: TestApp) {
        let response = app.request(Method::POST, "/v1/links", Some(&app.keys.secret_key), Some(json!({
            "institution_id": "cl_banco_sandbox", "username": "41614850-3", "password": "wrong",
        }))).await;
        let (status, body) = into_json(response).await;
        assert_error(status, &body, 406, "institution_credentials_invalid");
        assert_eq!(body["error"]["type"], "link_error");

        let response = app.request(Method::POST, "/v1/links", Some(&app.keys.secret_key), Some(json!({
            "institution_id": "cl_banco_sandbox", "username": "41614850-3",
        }))).await;
        let (status, body) = into_json(response).await;
        assert_error(status, &body, 400, "missing_parameter");
        assert_eq!(body["error"]["param"], "password");

        let live = app.key_pair("acme", refresco::domain::Mode::Live).await;
        let response = app.request(Method::POST, "/v1/links", Some(&live.secret_key), Some(json!({
            "institution_id": "cl_banco_sandbox", "username": "41614850-3", "password": "jonsnow",
        }))).await;
        let (status, body) = into_json(response).await;
        assert_error(status, &body, 422, "not_supported_mode");

        let response = app.request(Method::POST, "/v1/links", Some(&app.keys.secret_key), Some(json!({
            "institution_id": "cl_banco_nope", "username": "41614850-3", "password": "jonsnow",
        }))).await;
        let (status, body) = into_json(response).await;
        assert_error(status, &body, 400, "invalid_institution");
    }

    async fn list_paginates_with_link_header_and_total(app: TestApp) {
        let mut ids = Vec::new();
        for user in ["41614850-3", "40427672-7", "41579263-8", "41614850-3"] {
            ids.push(app.create_link(user).await.0["id"].as_str().unwrap().to_owned());
        }
        ids.reverse(); // newest first
        let mut seen = Vec::new();
        let mut next = Some(format!("{}/v1/links?per_page=1&extra=x%2Cy", app.base));
        let mut pages = 0;
        while let Some(url) = next {
            let response = app.client.get(&url)
                .header("Authorization", &app.keys.secret_key).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.headers()["x-total-count"], "4");
            let rels = link_rels(response.headers()["link"].to_str().unwrap());
            for (_, url) in &rels {
                assert!(url.starts_with(&app.base), "absolute: {url}");
                assert!(url.contains("per_page=1") && url.contains("extra=x%2Cy"), "{url}");
            }
            assert_eq!(rels.iter().find(|(r, _)| r == "last").unwrap().1,
                format!("{}/v1/links?per_page=1&extra=x%2Cy&page=4", app.base));
            next = rels.iter().find(|(r, _)| r == "next").map(|(_, u)| u.clone());
            let body: serde_json::Value = response.json().await.unwrap();
            let page = body.as_array().unwrap();
            assert_eq!(page.len(), 1);
            assert!(page[0]["accounts"].is_null() && page[0]["link_token"].is_null());
            seen.push(page[0]["id"].as_str().unwrap().to_owned());
            pages += 1;
        }
        assert_eq!(pages, 4);
        assert_eq!(seen, ids, "every link once, newest first");
    }

    async fn get_update_and_delete(app: TestApp) {
        let (link, token) = app.create_link("40427672-7").await;
        let id = link["id"].as_str().unwrap();
        let (status, got) = app.get(&format!("/v1/links/{token}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(got["id"], id);
        assert!(got["link_token"].is_null(), "token is shown only on creation");
        assert_eq!(got["accounts"].as_array().unwrap().len(), link["accounts"].as_array().unwrap().len());

        let path = format!("/v1/links/{token}");
        let patch = |active| app.request(Method::PATCH, &path,
            Some(&app.keys.secret_key), Some(json!({"active": active, "username": "ignored"})));
        let (status, updated) = into_json(patch(json!(false)).await).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(updated["active"], false);
        assert_eq!(updated["status"], "inactive");
        assert!(updated["accounts"].is_null());
        let (status, body) = into_json(patch(json!("nope")).await).await;
        assert_error(status, &body, 400, "invalid_boolean");
        let (_, updated) = into_json(patch(json!(true)).await).await;
        assert_eq!(updated["status"], "active");

        // Delete by id; the token stops working at once.
        let response = app.request(Method::DELETE, &format!("/v1/links/{id}"), Some(&app.keys.secret_key), None).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let (status, body) = app.get(&format!("/v1/links/{token}")).await;
        assert_error(status, &body, 404, "invalid_link_token");
        let (status, body) = app.get(&format!("/v1/accounts?link_token={token}")).await;
        assert_error(status, &body, 404, "invalid_link_token");
        let response = app.request(Method::DELETE, &format!("/v1/links/{id}"), Some(&app.keys.secret_key), None).await;
        let (status, body) = into_json(response).await;
        assert_error(status, &body, 404, "missing_resource");
        let (_, list) = app.get("/v1/links").await;
        assert!(list.as_array().unwrap().is_empty());

        // Delete by token (as the Node client does).
        let (_, token2) = app.create_link("41579263-8").await;
        let response = app.request(Method::DELETE, &format!("/v1/links/{token2}?link_token={token2}"), Some(&app.keys.secret_key), None).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let (status, _) = app.get(&format!("/v1/links/{token2}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    async fn business_holders_connect_with_a_company_rut(app: TestApp) {
        let response = app.request(Method::POST, "/v1/links", Some(&app.keys.secret_key), Some(json!({
            "institution_id": "cl_banco_sandbox", "username": "76.086.428-5", "password": "jonsnow",
            "holder_type": "business",
        }))).await;
        let (status, body) = into_json(response).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["holder_type"], "business");
        assert_eq!(body["username"], "760864285", "a RUT login as Fintoc shows it");
    }
}
