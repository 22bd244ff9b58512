//! Connectors broken on purpose, wire rules: a layer rewriting the sandbox server's JSON
//! answers, one rule broken each.

use super::*;

/// `router` behind a layer that hands `rewrite` each exchange: the path, the request's JSON
/// (null for none), and the answer's status and JSON; what it returns is sent instead.
pub(crate) fn rewriting<F>(router: Router, rewrite: F) -> Router
where
    F: Fn(&str, &Value, StatusCode, Value) -> Response + Clone + Send + Sync + 'static,
{
    router.layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let rewrite = rewrite.clone();
            async move {
                let path = request.uri().path().to_owned();
                let (parts, body) = request.into_parts();
                let body = to_bytes(body, usize::MAX).await.unwrap();
                let asked = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let answer = next.run(Request::from_parts(parts, Body::from(body))).await;
                let status = answer.status();
                let body = to_bytes(answer.into_body(), usize::MAX).await.unwrap();
                rewrite(
                    &path,
                    &asked,
                    status,
                    serde_json::from_slice(&body).unwrap(),
                )
            }
        },
    ))
}

/// Which fetch of its account's window a `POST /movements` belongs to (1 for the first; a
/// fetch starts without a cursor).
fn nth_fetch(fetches: &Mutex<HashMap<String, usize>>, asked: &Value) -> usize {
    let key = format!("{} {}", asked["account"]["bank_id"], asked["window"]);
    let mut fetches = fetches.lock().unwrap();
    let nth = fetches.entry(key).or_default();
    if asked["cursor"].is_null() {
        *nth += 1;
    }
    *nth
}

async fn check_rewritten<F>(rewrite: F) -> Report
where
    F: Fn(&str, &Value, StatusCode, Value) -> Response + Clone + Send + Sync + 'static,
{
    let url = serve(rewriting(sandbox_router(20), rewrite)).await;
    check::run(&args(&url, CHILE, sandbox::PASSWORD)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_protocol_version_fails() {
    let report = check_rewritten(|path, _, status, mut answer| {
        if path == "/manifest" {
            answer["protocol"] = json!(2);
        }
        (status, Json(answer)).into_response()
    })
    .await;
    assert_only_fails(&report, "manifest.protocol", "\"protocol\" is 2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_float_amount_fails() {
    let report = check_rewritten(|path, _, status, mut answer| {
        if path == "/movements" && status.is_success() {
            let amount = answer["movements"][0]["amount"].as_i64().unwrap();
            answer["movements"][0]["amount"] = json!(amount as f64 + 0.5);
        }
        (status, Json(answer)).into_response()
    })
    .await;
    assert_only_fails(&report, "movements.integer_amounts", ".5, not an integer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_that_never_ends_fails() {
    // The server reads "0" as the first page again, so this loops on page one.
    let report = check_rewritten(|path, _, status, mut answer| {
        if path == "/movements" && status.is_success() {
            answer["next_cursor"] = json!("0");
        }
        (status, Json(answer)).into_response()
    })
    .await;
    assert_only_fails(&report, "movements.cursors_end", "already given");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_ids_that_change_between_fetches_fail() {
    // From the second fetch of an account's window on (a fetch starts without a cursor), every
    // bank id gets a suffix.
    let fetches: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let report = check_rewritten(move |path, asked, status, mut answer| {
        if path == "/movements" && status.is_success() && nth_fetch(&fetches, asked) > 1 {
            for movement in answer["movements"].as_array_mut().unwrap() {
                let id = format!("{}-again", movement["bank_id"].as_str().unwrap());
                movement["bank_id"] = json!(id);
            }
        }
        (status, Json(answer)).into_response()
    })
    .await;
    assert_only_fails(&report, "movements.stable_ids", "-again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_html_error_for_a_wrong_password_fails() {
    let report = check_rewritten(|path, _, status, answer| {
        if path == "/login" && !status.is_success() {
            let html = "<html><body><h1>500 Internal Server Error</h1></body></html>";
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/html")],
                html,
            )
                .into_response();
        }
        (status, Json(answer)).into_response()
    })
    .await;
    assert_only_fails(&report, "errors.invalid_credentials", "not JSON");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_movement_that_changes_between_two_reads_fails() {
    // The second fetch of each window keeps every bank id but changes one amount.
    let fetches: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let report = check_rewritten(move |path, asked, status, mut answer| {
        let first_page = path == "/movements" && status.is_success() && asked["cursor"].is_null();
        if first_page && nth_fetch(&fetches, asked) > 1 {
            if let Some(first) = answer["movements"].get_mut(0) {
                let amount = first["amount"].as_i64().unwrap();
                first["amount"] = json!(amount + 1);
            }
        }
        (status, Json(answer)).into_response()
    })
    .await;
    assert_only_fails(&report, "movements.stable_ids", "changed between two reads");
}

/// The check's wrong login answered with `error` changed by `edit`.
async fn check_with_wrong_login_error(edit: fn(&mut Value)) -> Report {
    check_rewritten(move |path, _, status, mut answer| {
        if path == "/login" && !status.is_success() {
            edit(&mut answer["error"]);
        }
        (status, Json(answer)).into_response()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_of_the_wrong_class_fails() {
    let report = check_with_wrong_login_error(|error| error["class"] = json!("transient")).await;
    assert_only_fails(&report, "errors.classes", "of class person, not transient");
    let report = check_with_wrong_login_error(|error| error["class"] = json!("cosmic")).await;
    assert_only_fails(&report, "errors.classes", "\"cosmic\" is not a class");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_of_its_own_needs_a_class() {
    // Without a class, a code the protocol does not list fails; with one, only the wrong
    // login's own check (it is not invalid_credentials) does.
    let report = check_with_wrong_login_error(|error| {
        error["code"] = json!("terms_changed");
        error.as_object_mut().unwrap().remove("class");
    })
    .await;
    assert_eq!(
        report.failed(),
        ["errors.invalid_credentials", "errors.classes"],
        "{report}"
    );
    let detail = &report.outcome("errors.classes").unwrap().detail;
    assert!(
        detail.contains("\"terms_changed\" is not the protocol's and has no class"),
        "{detail}"
    );
    let report = check_with_wrong_login_error(|error| {
        error["code"] = json!("terms_changed");
        error["class"] = json!("person");
    })
    .await;
    assert_eq!(report.failed(), ["errors.invalid_credentials"], "{report}");
}
