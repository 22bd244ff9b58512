//! The rules of `invariants`, each shown to hold and to catch what it is for.

use serde_json::json;

use super::*;

/// A movement as a connector would write it, with any JSON as its amount.
fn movement(id: &str, date: &str, amount: Value) -> Value {
    serde_json::to_value(BankMovement {
        bank_id: id.to_owned(),
        amount: 0,
        currency: "CLP".to_owned(),
        description: "Compra".to_owned(),
        post_date: date.parse().unwrap(),
        transaction_date: None,
        movement_type: crate::connectors::BankMovementType::Other,
        status: crate::connectors::BankMovementStatus::Confirmed,
        pending: false,
        reference_id: None,
        comment: None,
        sender_account: None,
        recipient_account: None,
    })
    .map(|mut v| {
        v["amount"] = amount;
        v
    })
    .unwrap()
}

fn window(since: &str, until: &str) -> DateWindow {
    DateWindow {
        since: since.parse().unwrap(),
        until: until.parse().unwrap(),
    }
}

#[test]
fn shapes_of_ids_countries_and_currencies() {
    assert!(is_institution_id("cl_banco_de_chile", "cl"));
    assert!(is_institution_id("mx_banco2", "mx"));
    assert!(!is_institution_id("cl_banco_de_chile", "mx"));
    assert!(!is_institution_id("cl_Banco", "cl"));
    assert!(!is_institution_id("cl_", "cl"));
    assert!(!is_institution_id("cl_banco_", "cl"));
    assert!(!is_institution_id("clbanco", "cl"));
    assert!(!is_institution_id("cl_banco-chile", "cl"));
    assert!(is_country("cl") && !is_country("CL") && !is_country("chl"));
    assert!(is_currency("CLP") && !is_currency("clp") && !is_currency("CL"));
}

#[test]
fn manifests() {
    let good = json!({"protocol": 1, "institutions": [
        {"id": "cl_banco_sandbox", "name": "B", "country": "cl", "currency": "CLP"}]});
    assert!(manifest_protocol(&good).is_empty());
    assert!(manifest_institutions(&good).is_empty());
    assert!(manifest_lists(&good, "cl_banco_sandbox").is_empty());
    assert_eq!(manifest_lists(&good, "cl_other").len(), 1);
    assert_eq!(manifest_protocol(&json!({"protocol": 2})).len(), 1);
    assert_eq!(manifest_protocol(&json!({"protocol": "1"})).len(), 1);
    assert_eq!(manifest_protocol(&json!({})).len(), 1);
    assert_eq!(
        manifest_institutions(&json!({"protocol": 1, "institutions": []})).len(),
        1
    );
    let bad = json!({"protocol": 1, "institutions": [
        {"id": "cl_a", "name": "A", "country": "cl", "currency": "CLP"},
        {"id": "cl_a", "name": "A", "country": "CL", "currency": "clp"},
        {"id": "cl_b", "name": "B"}]});
    let problems = manifest_institutions(&bad);
    assert!(problems.iter().any(|p| p.contains("twice")), "{problems:?}");
    assert!(
        problems.iter().any(|p| p.contains("country")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("currency")),
        "{problems:?}"
    );
    assert!(problems.iter().any(|p| p.contains("#3")), "{problems:?}");
}

fn account(id: &str, currency: &str) -> Value {
    json!({"bank_id": id, "name": "Cuenta", "official_name": "Cuenta", "number": "1",
           "holder_id": "1", "holder_name": "A", "account_type": "checking_account",
           "currency": currency, "balance_available": 1, "balance_current": 1,
           "balance_limit": 1})
}

#[test]
fn accounts_are_some_unique_and_in_the_schema() {
    assert!(accounts(&[account("a", "CLP"), account("b", "USD")]).is_empty());
    assert_eq!(accounts(&[]).len(), 1);
    assert_eq!(
        accounts(&[account("a", "CLP"), account("a", "CLP")]).len(),
        1
    );
    assert_eq!(accounts(&[account("a", "clp")]).len(), 1);
    let mut float = account("a", "CLP");
    float["balance_current"] = json!(1.5);
    assert_eq!(accounts(&[float]).len(), 1);
}

#[test]
fn pages_are_in_the_schema_whatever_the_amounts() {
    let page = json!({"movements": [movement("m", "2024-01-01", json!(1.5))],
                      "next_cursor": null});
    assert!(movements_page(&page).is_empty());
    let without_cursor = json!({"movements": []});
    assert!(movements_page(&without_cursor).is_empty());
    assert_eq!(movements_page(&json!({"movements": {}})).len(), 1);
    let mut broken = movement("m", "2024-01-01", json!(1));
    broken["post_date"] = json!("yesterday");
    assert_eq!(movements_page(&json!({"movements": [broken]})).len(), 1);
    assert_eq!(
        movements_page(&json!({"movements": [], "next_cursor": 2})).len(),
        1
    );
}

#[test]
fn amounts_must_be_json_integers() {
    let ok = [
        movement("a", "2024-01-01", json!(-100)),
        movement("b", "2024-01-01", json!(0)),
    ];
    assert!(non_integer_amounts(&ok).is_empty());
    for bad in [
        json!(1.5),
        json!(1.0),
        json!("100"),
        json!(null),
        json!(u64::MAX),
    ] {
        let problems = non_integer_amounts(&[movement("a", "2024-01-01", bad.clone())]);
        assert_eq!(problems.len(), 1, "{bad}");
    }
}

#[test]
fn duplicates_dates_currencies_and_order() {
    let a = movement("a", "2024-01-03", json!(1));
    let b = movement("b", "2024-01-02", json!(1));
    let c = movement("c", "2024-01-02", json!(1));
    let fetch = [a.clone(), b.clone(), c.clone()];
    assert!(duplicate_ids(&fetch).is_empty());
    assert!(out_of_order(&fetch).is_empty());
    assert!(outside_window(&fetch, window("2024-01-02", "2024-01-03")).is_empty());
    assert!(foreign_currency(&fetch, "CLP").is_empty());

    assert_eq!(
        duplicate_ids(&[a.clone(), b.clone(), a.clone(), a.clone()]).len(),
        1
    );
    assert_eq!(out_of_order(&[b.clone(), a.clone(), c.clone()]).len(), 1);
    assert_eq!(
        outside_window(&fetch, window("2024-01-03", "2024-01-03")).len(),
        2
    );
    assert_eq!(
        outside_window(&fetch, window("2024-01-01", "2024-01-02")).len(),
        1
    );
    assert_eq!(foreign_currency(&fetch, "USD").len(), 3);
}

#[test]
fn stable_ids_and_subsets() {
    let a = movement("a", "2024-01-03", json!(1));
    let b = movement("b", "2024-01-02", json!(1));
    let c = movement("c", "2024-01-02", json!(1));
    let (ab, ba, ac) = (
        [a.clone(), b.clone()],
        [b.clone(), a.clone()],
        [a.clone(), c.clone()],
    );
    assert!(unstable_ids(&ab, &ba).is_empty());
    assert_eq!(
        unstable_ids(&ab, &ac),
        [
            "1 bank id (\"b\") in the first fetch only",
            "1 bank id (\"c\") in the second fetch only"
        ]
    );
    assert!(not_within(&ab[..1], &ab).is_empty());
    assert!(not_within(&[], &ab).is_empty());
    assert_eq!(
        not_within(&ac, &ab),
        ["1 bank id (\"c\") of the shorter window missing from the longer"]
    );
    assert_eq!(
        some_ids(&["w", "x", "y", "z"]),
        "4 bank ids (\"w\", \"x\", \"y\", …)"
    );
}

#[test]
fn error_answers() {
    let code = ErrorCode::InvalidCredentials;
    let good = br#"{"error": {"code": "invalid_credentials", "message": "no"}}"#;
    assert!(error_answer(401, good, code).is_empty());
    assert_eq!(error_answer(200, good, code).len(), 1);
    assert_eq!(error_answer(500, b"<html>oops</html>", code).len(), 1);
    assert_eq!(error_answer(401, br#"{"code": "x"}"#, code).len(), 1);
    let other = br#"{"error": {"code": "unavailable", "message": "no"}}"#;
    assert_eq!(error_answer(503, other, code).len(), 1);
    let unknown = br#"{"error": {"code": "nope", "message": "no"}}"#;
    assert_eq!(error_answer(401, unknown, code).len(), 1);
    let silent = br#"{"error": {"code": "invalid_credentials"}}"#;
    assert_eq!(error_answer(401, silent, code).len(), 1);
    let attempts =
        br#"{"error": {"code": "invalid_credentials", "message": "", "attempts_left": -1}}"#;
    assert_eq!(error_answer(401, attempts, code).len(), 1);
}

#[test]
fn secrets_are_found_raw_or_escaped() {
    assert!(contains_secret(b"{\"s\": \"jonsnow\"}", "jonsnow"));
    assert!(contains_secret(b"<p>pw=jonsnow</p>", "jonsnow"));
    assert!(contains_secret(br#"{"s": "a\/b"}"#, "a/b"));
    assert!(contains_secret(br#"{"s": "pi\u00f1a"}"#, "piña"));
    assert!(contains_secret(br#"{"pi\u00f1a": 1}"#, "piña"));
    assert!(!contains_secret(br#"{"s": "jon snow"}"#, "jonsnow"));
    assert!(!contains_secret(b"anything", ""));
}

#[test]
fn excerpts_are_short_and_on_one_line() {
    assert_eq!(
        excerpt(b"<html>\n  <b>x</b>\n</html>"),
        "<html> <b>x</b> </html>"
    );
    assert_eq!(excerpt(b""), "(empty)");
    assert!(excerpt(&[b'a'; 500]).ends_with('…'));
}
