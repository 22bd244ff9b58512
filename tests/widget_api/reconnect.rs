//! The widget's reconnect flow: a link intent created with a `link_token` gives that link new
//! credentials through the widget's login (and second factor), and the link keeps its id, its
//! token and its accounts. In test and live mode, refused logins counted as in creation, and
//! every way the creation or a widget step can be refused.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::support::*;
use crate::both_backends_and_connector;
use crate::common::*;

/// A Chilean link of the default organization whose bank rejects its credentials from its
/// first refresh on, after that refresh: `login_required`. `key` is a secret key of that
/// organization: a live one moves the link to live mode in the database first (live links are
/// otherwise made by a person in the widget). Returns the link (as created) and its token.
async fn rejected_link(app: &TestApp, key: &str) -> (Value, String) {
    let (link, token) = app
        .create_link_with(
            &app.keys.secret_key,
            "cl_banco_sandbox",
            "41614850-3",
            "jonsnow+invalid@1",
        )
        .await;
    if key.starts_with("sk_live_") {
        let id = link["id"].as_str().unwrap();
        database::execute(
            app,
            &format!("UPDATE links SET mode = 'live' WHERE id = '{id}'"),
        )
        .await;
    }
    let ended = refresh_to_its_end(app, key, &token).await;
    assert_eq!(ended["status"], "rejected", "{ended}");
    let (_, now) = get_as(app, key, &format!("/v1/links/{token}")).await;
    assert_eq!(now["status"], "login_required", "{now}");
    (link, token)
}

async fn refresh(app: &TestApp, key: &str, token: &str) -> Value {
    let response = app
        .request(
            Method::POST,
            "/v1/refresh_intents",
            Some(key),
            Some(json!({"link_token": token})),
        )
        .await;
    let (status, intent) = into_json(response).await;
    assert_eq!(status, StatusCode::CREATED, "{intent}");
    intent
}

/// A link intent that reconnects the Chilean individual's link `token` opens.
fn reconnect_body(token: &str) -> Value {
    json!({"product": "movements", "country": "cl", "holder_type": "individual", "link_token": token})
}

/// A refresh of the link `token` opens, once it ended.
async fn refresh_to_its_end(app: &TestApp, key: &str, token: &str) -> Value {
    let intent = refresh(app, key, token).await;
    let id = intent["id"].as_str().unwrap();
    wait_until_as(app, key, token, id, |i| i["status"] != "created").await
}

async fn get_as(app: &TestApp, key: &str, path: &str) -> (StatusCode, Value) {
    into_json(app.request(Method::GET, path, Some(key), None).await).await
}

/// The widget's credentials step with only what the person types when reconnecting.
async fn new_password(app: &TestApp, pk: &str, token: &str, password: &str) -> (StatusCode, Value) {
    let path = format!("{token}/credentials");
    widget(
        app,
        Method::POST,
        pk,
        &path,
        Some(json!({"password": password})),
    )
    .await
}

/// How many `link.credentials_changed` events the key's organization and mode has.
async fn credentials_changed(app: &TestApp, sk: &str) -> usize {
    let (status, events) = get_as(app, sk, "/v1/events?type=link.credentials_changed").await;
    assert_eq!(status, StatusCode::OK, "{events}");
    events.as_array().unwrap().len()
}

fn ids(list: &Value) -> Vec<Value> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].clone())
        .collect()
}

/// The whole flow with `keys` (test or live): a rejected link reconnected in the widget, a
/// wrong password first.
async fn reconnect_through_the_widget(app: &TestApp, sk: &str, pk: &str, mode: &str) {
    let (link, link_token) = rejected_link(app, sk).await;
    let link_id = link["id"].as_str().unwrap();
    let changed_before = credentials_changed(app, sk).await;

    let (status, intent) = create_intent_with(app, sk, reconnect_body(&link_token)).await;
    assert_eq!(status, StatusCode::CREATED, "{intent}");
    assert_eq!(
        (
            intent["country"].as_str(),
            intent["holder_type"].as_str(),
            intent["mode"].as_str()
        ),
        (Some("cl"), Some("individual"), Some(mode)),
        "the link's: {intent}"
    );
    assert!(intent["link_id"].is_null(), "{intent}");
    let token = widget_token(&intent);

    // The widget shows the link's bank and login, without a picker.
    let (status, view) = widget(app, Method::GET, pk, &token, None).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(
        view["reconnect"]["institution"]["id"], "cl_banco_sandbox",
        "{view}"
    );
    assert_eq!(view["reconnect"]["username"], link["username"], "{view}");

    // A wrong password counts towards the same limit as in creation, and changes nothing.
    let (status, body) = new_password(app, pk, &token, "wrong").await;
    assert_error(status, &body, 406, "institution_credentials_invalid");
    assert_eq!(body["error"]["login_attempts_left"], 4, "{body}");
    let (_, still) = get_as(app, sk, &format!("/v1/links/{link_token}")).await;
    assert_eq!(still["status"], "login_required", "{still}");

    // The username as the person typed it is the link's too.
    let body = json!({"institution_id": "cl_banco_sandbox", "username": "41.614.850-3", "password": "jonsnow"});
    let (status, done) = widget(
        app,
        Method::POST,
        pk,
        &format!("{token}/credentials"),
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["link"]["id"], link_id, "the same link: {done}");
    assert_eq!(done["exchange_token"], intent["exchange_token"], "{done}");

    let (_, now) = get_as(app, sk, &format!("/v1/links/{link_token}")).await;
    assert_eq!(
        (now["id"].as_str(), now["status"].as_str()),
        (Some(link_id), Some("active")),
        "{now}"
    );
    assert_eq!(
        ids(&now["accounts"]),
        ids(&link["accounts"]),
        "the same accounts, by id"
    );
    let (_, links) = get_as(app, sk, "/v1/links").await;
    assert_eq!(ids(&links), vec![json!(link_id)], "no new link");

    // The exchange answers the link, without a token: the client holds it already.
    let (status, exchanged) =
        exchange_with(app, sk, intent["exchange_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{exchanged}");
    assert_eq!(exchanged["id"], link_id);
    assert!(exchanged["link_token"].is_null(), "{exchanged}");
    assert_eq!(ids(&exchanged["accounts"]), ids(&link["accounts"]));
    let (_, retrieved) = get_as(
        app,
        sk,
        &format!("/v1/link_intents/{}", intent["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(
        (retrieved["status"].as_str(), retrieved["link_id"].as_str()),
        (Some("succeeded"), Some(link_id))
    );
    assert_eq!(
        credentials_changed(app, sk).await,
        changed_before,
        "a reconnection sends no link.credentials_changed"
    );

    // The old token refreshes again, with the new credentials.
    let ended = refresh_to_its_end(app, sk, &link_token).await;
    assert_eq!(ended["status"], "succeeded", "{ended}");
    let (_, accounts) = get_as(app, sk, &format!("/v1/accounts?link_token={link_token}")).await;
    assert_eq!(ids(&accounts), ids(&link["accounts"]));
}

both_backends_and_connector! {
    async fn a_rejected_test_link_is_reconnected_in_the_widget(app: TestApp) {
        let keys = app.keys.clone();
        reconnect_through_the_widget(&app, &keys.secret_key, &keys.public_key, "test").await;
    }

    async fn a_second_factor_at_login_is_answered_as_in_creation(app: TestApp) {
        let (link, link_token) = rejected_link(&app, &app.keys.secret_key).await;
        let (_, intent) = create_intent_with(&app, &app.keys.secret_key,
            reconnect_body(&link_token)).await;
        let token = widget_token(&intent);
        let password = "jonsnow+mfa_sms+long_history";
        let (status, asked) = new_password(&app, &app.keys.public_key, &token, password).await;
        assert_eq!(status, StatusCode::OK, "{asked}");
        assert_eq!((asked["status"].as_str(), asked["mfa"]["method"].as_str()), (Some("created"), Some("sms")), "{asked}");
        assert_eq!(asked["login_attempts_left"], 4, "a login that asks for a code counts");
        // Parked with its challenge, the new password is sealed; the intent holds the link's
        // id, not its token.
        let link_secret = link_token.rsplit('_').next().unwrap();
        let raw = database::raw_database(&app).await;
        assert!(database::contains(&raw, intent["id"].as_str().unwrap()), "the dump holds the intent");
        assert!(!database::contains(&raw, "long_history"), "the new password in plaintext");
        assert!(!database::contains(&raw, link_secret), "the link token in plaintext");
        let (status, body) = answer(&app, &token, json!({"code": "000000"})).await;
        assert_error(status, &body, 400, "invalid_mfa_code");
        let (status, done) = answer(&app, &token, json!({"code": "123456"})).await;
        assert_eq!(status, StatusCode::OK, "{done}");
        assert_eq!(done["link"]["id"], link["id"], "{done}");
        let (_, now) = app.get(&format!("/v1/links/{link_token}")).await;
        assert_eq!(now["status"], "active", "{now}");
        let raw = database::raw_database(&app).await;
        assert!(!database::contains(&raw, "long_history"), "the new password in plaintext");
        assert!(!database::contains(&raw, link_secret), "the link token in plaintext");
        // The bank now asks for a second factor at login: the link's refreshes say so.
        let intent = refresh(&app, &app.keys.secret_key, &link_token).await;
        assert!(intent["requires_mfa"]["widget_token"].is_string(), "{intent}");
    }

    async fn wrong_passwords_end_the_intent_at_the_limit(app: TestApp) {
        let (_, link_token) = rejected_link(&app, &app.keys.secret_key).await;
        let (_, intent) = create_intent_with(&app, &app.keys.secret_key, reconnect_body(&link_token)).await;
        let token = widget_token(&intent);
        for left in [4, 3, 2, 1, 0] {
            let (status, body) = new_password(&app, &app.keys.public_key, &token, "wrong").await;
            assert_error(status, &body, 406, "institution_credentials_invalid");
            assert_eq!(body["error"]["login_attempts_left"], left, "{body}");
        }
        let (status, body) = new_password(&app, &app.keys.public_key, &token, "jonsnow").await;
        assert_error(status, &body, 422, "link_intent_failed");
        let (_, now) = app.get(&format!("/v1/links/{link_token}")).await;
        assert_eq!(now["status"], "login_required", "nothing changed: {now}");
    }
}

/// What needs no bank process of its own: live mode, and the refusals.
mod live_and_refusals {
    use super::*;
    use crate::both_backends;

    both_backends! {
        async fn a_rejected_live_link_is_reconnected_in_the_widget(app: TestApp) {
            // Live links are made by people in the widget; here a test link's organization makes
            // them through the API in live mode, at the sandbox bank offered in live mode.
            let backend = app.backend;
            drop(app);
            let app = TestApp::start_with(backend, |c| c.sandbox_in_live = true).await.unwrap();
            let live = app.key_pair("acme", refresco::domain::Mode::Live).await;
            reconnect_through_the_widget(&app, &live.secret_key, &live.public_key, "live").await;
        }

        async fn creation_refuses_links_it_cannot_reconnect(app: TestApp) {
            let sk = app.keys.secret_key.clone();
            let (link, link_token) = app.create_link("41614850-3").await;
            let create = |body: Value| create_intent_with(&app, &sk, body);
            let with = |extra: Value| {
                let mut body = reconnect_body(&link_token);
                body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
                body
            };
            // The country and holder type are required, and must be the link's.
            let (status, created) = create(with(json!({}))).await;
            assert_eq!(status, StatusCode::CREATED, "{created}");
            let (status, body) = create(json!({"product": "movements", "link_token": link_token})).await;
            assert_error(status, &body, 400, "missing_parameter");
            assert_eq!(body["error"]["param"], "country", "{body}");
            for (field, value) in [("holder_type", "business"), ("country", "mx")] {
                let (status, body) = create(with(json!({field: value}))).await;
                assert_error(status, &body, 422, "link_mismatch");
                assert_eq!(body["error"]["param"], field, "{body}");
            }
            // Bad text and types name the field.
            let (status, body) = create(with(json!({"link_token": "link_x\u{0}_token_y"}))).await;
            assert_error(status, &body, 400, "invalid_params");
            assert_eq!(body["error"]["param"], "link_token", "{body}");
            let (status, body) = create(with(json!({"link_token": 7}))).await;
            assert_error(status, &body, 400, "invalid_params");
            assert_eq!(body["error"]["param"], "link_token", "{body}");

            // Another organization's link, another mode's key, a made-up token: the same 404.
            let other = app.key_pair("globex", refresco::domain::Mode::Test).await;
            let (_, foreign_token) = app.create_link_with(&other.secret_key, "cl_banco_sandbox", "41614850-3", "jonsnow").await;
            let live = app.key_pair("acme", refresco::domain::Mode::Live).await;
            let made_up = format!("{}_token_nope", link["id"].as_str().unwrap());
            for (key, token) in [(&sk, &foreign_token), (&live.secret_key, &link_token), (&sk, &made_up)] {
                let (status, body) = create_intent_with(&app, key, reconnect_body(token)).await;
                assert_error(status, &body, 404, "invalid_link_token");
            }

            // An inactive link is activated first.
            let path = format!("/v1/links/{link_token}");
            let patch = |active| app.request(Method::PATCH, &path, Some(&sk), Some(json!({"active": active})));
            assert_eq!(patch(false).await.status(), StatusCode::OK);
            let (status, body) = create(with(json!({}))).await;
            assert_error(status, &body, 400, "invalid_on_demand_link");
            assert_eq!(body["error"]["param"], "link_token", "{body}");
            assert_eq!(patch(true).await.status(), StatusCode::OK);

            // The widget logs in to the link's bank as the link's user, and no other.
            let (_, intent) = create(with(json!({}))).await;
            let token = widget_token(&intent);
            for (field, body) in [
                ("institution_id", json!({"institution_id": "mx_banco_sandbox", "password": "jonsnow"})),
                ("username", json!({"username": "40427672-7", "password": "jonsnow"})),
            ] {
                let (status, body) = widget(&app, Method::POST, &app.keys.public_key, &format!("{token}/credentials"), Some(body)).await;
                assert_error(status, &body, 422, "link_mismatch");
                assert_eq!(body["error"]["param"], field, "{body}");
            }
            // A creating intent still needs both.
            let creating = widget_token(&create_intent(&app, "cl").await);
            let (status, body) = new_password(&app, &app.keys.public_key, &creating, "jonsnow").await;
            assert_error(status, &body, 400, "missing_parameter");
            assert_eq!(body["error"]["param"], "institution_id", "{body}");

            // A link deleted before the widget finished: the widget's token opens nothing more.
            let response = app.request(Method::DELETE, &path, Some(&sk), None).await;
            assert_eq!(response.status(), StatusCode::NO_CONTENT);
            let (status, body) = new_password(&app, &app.keys.public_key, &token, "jonsnow").await;
            assert_error(status, &body, 404, "missing_resource");
            let (status, body) = widget(&app, Method::GET, &app.keys.public_key, &token, None).await;
            assert_error(status, &body, 404, "missing_resource");
            let (status, body) = create(with(json!({}))).await;
            assert_error(status, &body, 404, "invalid_link_token");
        }
    }
}
