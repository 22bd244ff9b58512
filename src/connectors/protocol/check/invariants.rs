//! The protocol's rules as pure functions over what a connector answered, as raw JSON: the
//! typed client would refuse or silently coerce some violations (a float amount, a string
//! where a number belongs), and the point here is to name them. Each function returns the
//! violations it found, in words a connector author can act on; none means the rule holds.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::NaiveDate;
use serde_json::Value;

use crate::connectors::protocol::{ErrorCode, VERSION};
use crate::connectors::{BankAccount, BankMovement, DateWindow, ErrorClass};

/// ISO 3166-1 alpha-2 in lower case, as the protocol writes countries.
pub(super) fn is_country(text: &str) -> bool {
    text.len() == 2 && text.bytes().all(|b| b.is_ascii_lowercase())
}

/// ISO 4217, three upper-case letters.
pub(super) fn is_currency(text: &str) -> bool {
    text.len() == 3 && text.bytes().all(|b| b.is_ascii_uppercase())
}

/// `<country>_<slug>`: the institution's own country, then lower-case letters, digits and
/// underscores, neither starting nor ending with one (`cl_banco_de_chile`).
pub(super) fn is_institution_id(id: &str, country: &str) -> bool {
    let Some((prefix, slug)) = id.split_once('_') else {
        return false;
    };
    prefix == country
        && !slug.is_empty()
        && !slug.starts_with('_')
        && !slug.ends_with('_')
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The manifest's `protocol` is this build's [`VERSION`].
pub(super) fn manifest_protocol(manifest: &Value) -> Vec<String> {
    match manifest.get("protocol") {
        Some(v) if v.as_u64() == Some(u64::from(VERSION)) => Vec::new(),
        Some(v) => vec![format!("\"protocol\" is {v}; this build speaks {VERSION}")],
        None => vec!["the manifest has no \"protocol\"".to_owned()],
    }
}

/// The manifest lists at least one institution, each with a unique well-formed id, a name, a
/// country and a currency.
pub(super) fn manifest_institutions(manifest: &Value) -> Vec<String> {
    let Some(list) = manifest.get("institutions").and_then(Value::as_array) else {
        return vec!["\"institutions\" is not a list".to_owned()];
    };
    let mut problems = Vec::new();
    if list.is_empty() {
        problems.push("\"institutions\" is empty".to_owned());
    }
    let mut ids = HashSet::new();
    for (i, institution) in list.iter().enumerate() {
        let text = |field: &str| institution.get(field).and_then(Value::as_str);
        let (Some(id), Some(name), Some(country), Some(currency)) =
            (text("id"), text("name"), text("country"), text("currency"))
        else {
            problems.push(format!(
                "institution #{} lacks one of \"id\", \"name\", \"country\", \"currency\" as a \
                 string",
                i + 1
            ));
            continue;
        };
        if !ids.insert(id) {
            problems.push(format!("institution id {id:?} is listed twice"));
        }
        if !is_country(country) {
            problems.push(format!(
                "{id}: country {country:?} is not two lower-case letters"
            ));
        }
        if !is_currency(currency) {
            problems.push(format!(
                "{id}: currency {currency:?} is not three upper-case letters"
            ));
        }
        if !is_institution_id(id, country) {
            problems.push(format!(
                "id {id:?} is not <country>_<slug> (country {country:?}, then lower-case \
                 letters, digits and underscores)"
            ));
        }
        if name.trim().is_empty() {
            problems.push(format!("{id}: the name is empty"));
        }
    }
    problems
}

/// The manifest lists `institution`.
pub(super) fn manifest_lists(manifest: &Value, institution: &str) -> Vec<String> {
    let listed = manifest
        .get("institutions")
        .and_then(Value::as_array)
        .is_some_and(|list| {
            list.iter()
                .any(|i| i.get("id").and_then(Value::as_str) == Some(institution))
        });
    if listed {
        Vec::new()
    } else {
        vec![format!(
            "{institution:?} is not among the manifest's institutions"
        )]
    }
}

/// `POST /accounts`'s list: at least one account, each in the schema, bank ids unique,
/// currencies three upper-case letters.
pub(super) fn accounts(accounts: &[Value]) -> Vec<String> {
    let mut problems = Vec::new();
    if accounts.is_empty() {
        problems.push("no accounts: a test login needs at least one".to_owned());
    }
    let mut ids = HashSet::new();
    for (i, account) in accounts.iter().enumerate() {
        let name = account.get("bank_id").and_then(Value::as_str).map_or_else(
            || format!("account #{}", i + 1),
            |id| format!("account {id}"),
        );
        if let Err(e) = serde_json::from_value::<BankAccount>(account.clone()) {
            problems.push(format!("{name} breaks the schema: {e}"));
        }
        if let Some(id) = account.get("bank_id").and_then(Value::as_str) {
            if !ids.insert(id) {
                problems.push(format!("bank_id {id:?} is used by two accounts"));
            }
        }
        if let Some(currency) = account.get("currency").and_then(Value::as_str) {
            if !is_currency(currency) {
                problems.push(format!(
                    "{name}: currency {currency:?} is not three upper-case letters"
                ));
            }
        }
    }
    problems
}

/// One page of `POST /movements` in the protocol's shape. Amounts are left to
/// [`non_integer_amounts`], so a float amount is reported once, under its own rule.
pub(super) fn movements_page(page: &Value) -> Vec<String> {
    let Some(movements) = page.get("movements").and_then(Value::as_array) else {
        return vec!["\"movements\" is not a list".to_owned()];
    };
    let mut problems = Vec::new();
    if !matches!(
        page.get("next_cursor"),
        None | Some(Value::Null | Value::String(_))
    ) {
        problems.push("\"next_cursor\" is neither null nor a string".to_owned());
    }
    for (i, movement) in movements.iter().enumerate() {
        let mut without_amount = movement.clone();
        if let Some(fields) = without_amount.as_object_mut() {
            fields.insert("amount".to_owned(), Value::from(0));
        }
        if let Err(e) = serde_json::from_value::<BankMovement>(without_amount) {
            let name = movement.get("bank_id").and_then(Value::as_str).map_or_else(
                || format!("movement #{}", i + 1),
                |id| format!("movement {id}"),
            );
            problems.push(format!("{name} breaks the schema: {e}"));
        }
    }
    problems
}

fn bank_id(movement: &Value) -> &str {
    movement
        .get("bank_id")
        .and_then(Value::as_str)
        .unwrap_or("(no bank_id)")
}

fn post_date(movement: &Value) -> Option<NaiveDate> {
    movement.get("post_date")?.as_str()?.parse().ok()
}

/// Every `amount` is a JSON integer that fits an `i64`: not `1.5`, not `1.0`, not `"100"`.
pub(super) fn non_integer_amounts(movements: &[Value]) -> Vec<String> {
    movements
        .iter()
        .filter_map(|m| match m.get("amount") {
            Some(Value::Number(n)) if n.is_i64() => None,
            Some(amount) => Some(format!(
                "movement {} has amount {amount}, not an integer",
                bank_id(m)
            )),
            None => Some(format!("movement {} has no amount", bank_id(m))),
        })
        .collect()
}

/// No bank id twice in one fetch of one account.
pub(super) fn duplicate_ids(movements: &[Value]) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut reported = BTreeSet::new();
    for movement in movements {
        let id = bank_id(movement);
        if !seen.insert(id) {
            reported.insert(id);
        }
    }
    reported
        .into_iter()
        .map(|id| format!("bank_id {id:?} comes more than once"))
        .collect()
}

/// Every `post_date` is inside `window`, both ends included.
pub(super) fn outside_window(movements: &[Value], window: DateWindow) -> Vec<String> {
    movements
        .iter()
        .filter_map(|m| {
            let date = post_date(m)?;
            (!window.contains(date)).then(|| {
                format!(
                    "movement {} posted {date}, outside {} … {}",
                    bank_id(m),
                    window.since,
                    window.until
                )
            })
        })
        .collect()
}

/// Every movement is in its account's `currency`.
pub(super) fn foreign_currency(movements: &[Value], currency: &str) -> Vec<String> {
    movements
        .iter()
        .filter_map(|m| {
            let theirs = m.get("currency").and_then(Value::as_str)?;
            (theirs != currency).then(|| {
                format!(
                    "movement {} is in {theirs:?}, its account in {currency:?}",
                    bank_id(m)
                )
            })
        })
        .collect()
}

/// Newest first: `post_date` never increases from one movement to the next, across pages.
pub(super) fn out_of_order(movements: &[Value]) -> Vec<String> {
    let dated: Vec<(&Value, NaiveDate)> = movements
        .iter()
        .filter_map(|m| Some((m, post_date(m)?)))
        .collect();
    dated
        .windows(2)
        .filter(|pair| pair[0].1 < pair[1].1)
        .map(|pair| {
            format!(
                "movement {} ({}) comes before the newer {} ({})",
                bank_id(pair[0].0),
                pair[0].1,
                bank_id(pair[1].0),
                pair[1].1
            )
        })
        .collect()
}

fn ids(movements: &[Value]) -> BTreeSet<&str> {
    movements.iter().map(bank_id).collect()
}

/// Two fetches of the same window, session and context give the same bank ids: they are how
/// the engine tells a modified movement from a new one.
pub(super) fn unstable_ids(first: &[Value], second: &[Value]) -> Vec<String> {
    let (first, second) = (ids(first), ids(second));
    let only_first: Vec<&str> = first.difference(&second).copied().collect();
    let only_second: Vec<&str> = second.difference(&first).copied().collect();
    [
        (only_first, "the first fetch only"),
        (only_second, "the second fetch only"),
    ]
    .into_iter()
    .filter(|(ids, _)| !ids.is_empty())
    .map(|(ids, which)| format!("{} in {which}", some_ids(&ids)))
    .collect()
}

/// Movements with the same bank id in two fetches of one window that differ in content:
/// a reader would see a movement change without the bank changing anything.
pub(super) fn changed_movements(first: &[Value], second: &[Value]) -> Vec<String> {
    let by_id = |list: &[Value]| -> HashMap<String, Value> {
        list.iter()
            .filter_map(|m| Some((m.get("bank_id")?.as_str()?.to_owned(), m.clone())))
            .collect()
    };
    let second = by_id(second);
    let changed: Vec<String> = by_id(first)
        .into_iter()
        .filter(|(id, m)| second.get(id).is_some_and(|again| again != m))
        .map(|(id, _)| id)
        .collect();
    if changed.is_empty() {
        return Vec::new();
    }
    let changed: Vec<&str> = changed.iter().map(String::as_str).collect();
    vec![format!("{} changed between two reads", some_ids(&changed))]
}

/// Every error answer says whose the failure is, or may leave it to its code: a code the
/// protocol does not list must come with a class, a class must be one of the protocol's, and
/// a listed code's class must be the code's own.
pub(super) fn error_classes(errors: &[(String, Value)]) -> Vec<String> {
    let mut problems = Vec::new();
    for (answer, error) in errors {
        let code = error
            .get("code")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let class = match error.get("class") {
            None | Some(Value::Null) => None,
            Some(Value::String(name)) => match ErrorClass::parse(name) {
                Some(class) => Some(class),
                None => {
                    problems.push(format!("{answer}: \"error.class\" {name:?} is not a class"));
                    continue;
                }
            },
            Some(other) => {
                problems.push(format!(
                    "{answer}: \"error.class\" is {other}, not a string"
                ));
                continue;
            }
        };
        match (ErrorCode::parse(code), class) {
            (None, None) => problems.push(format!(
                "{answer}: the code {code:?} is not the protocol's and has no class"
            )),
            (Some(known), Some(class)) if known.class() != class => problems.push(format!(
                "{answer}: {code:?} is of class {}, not {}",
                known.class().as_str(),
                class.as_str()
            )),
            _ => {}
        }
    }
    problems
}

/// Every bank id of the shorter window's fetch is in the longer window's.
pub(super) fn not_within(shorter: &[Value], longer: &[Value]) -> Vec<String> {
    let longer = ids(longer);
    let missing: Vec<&str> = ids(shorter)
        .into_iter()
        .filter(|id| !longer.contains(id))
        .collect();
    if missing.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "{} of the shorter window missing from the longer",
        some_ids(&missing)
    )]
}

/// "3 bank ids (a, b, c)", naming at most a few: one line stays readable.
fn some_ids(ids: &[&str]) -> String {
    const NAMED: usize = 3;
    let named: Vec<String> = ids.iter().take(NAMED).map(|id| format!("{id:?}")).collect();
    let more = if ids.len() > NAMED { ", …" } else { "" };
    let noun = if ids.len() == 1 {
        "bank id"
    } else {
        "bank ids"
    };
    format!("{} {noun} ({}{more})", ids.len(), named.join(", "))
}

/// A failure answer is a protocol error, `{"error": {"code", "message", …}}` with a non-2xx
/// status, and its code is `expected`.
pub(super) fn error_answer(status: u16, body: &[u8], expected: ErrorCode) -> Vec<String> {
    if (200..300).contains(&status) {
        return vec![format!(
            "answered {status}, a success, where {} was due",
            expected.as_str()
        )];
    }
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return vec![format!(
            "answered {status} with a body that is not JSON: {}",
            excerpt(body)
        )];
    };
    let Some(error) = value.get("error").and_then(Value::as_object) else {
        return vec![format!(
            "answered {status} without an \"error\" object: {}",
            excerpt(body)
        )];
    };
    let mut problems = Vec::new();
    match error.get("code").and_then(Value::as_str) {
        None => problems.push("\"error.code\" is not a string".to_owned()),
        Some(code) => match ErrorCode::parse(code) {
            None => problems.push(format!("\"error.code\" {code:?} is not a protocol code")),
            Some(code) if code != expected => problems.push(format!(
                "\"error.code\" is {:?}, not {:?}",
                code.as_str(),
                expected.as_str()
            )),
            Some(_) => {}
        },
    }
    if !error.get("message").is_some_and(Value::is_string) {
        problems.push("\"error.message\" is not a string".to_owned());
    }
    match error.get("attempts_left") {
        None | Some(Value::Null) => {}
        Some(v) if v.as_u64().is_some_and(|n| u32::try_from(n).is_ok()) => {}
        Some(v) => problems.push(format!("\"error.attempts_left\" is {v}, not a count")),
    }
    match error.get("bank_id") {
        None | Some(Value::Null | Value::String(_)) => {}
        Some(v) => problems.push(format!("\"error.bank_id\" is {v}, not a string")),
    }
    problems
}

/// Whether `secret` is in `body`, as written or inside any JSON string once unescaped (a
/// serializer may write `/` as `\/` or non-ASCII as `\u00e9`).
pub(super) fn contains_secret(body: &[u8], secret: &str) -> bool {
    fn in_value(value: &Value, secret: &str) -> bool {
        match value {
            Value::String(s) => s.contains(secret),
            Value::Array(items) => items.iter().any(|v| in_value(v, secret)),
            Value::Object(map) => map
                .iter()
                .any(|(k, v)| k.contains(secret) || in_value(v, secret)),
            Value::Null | Value::Bool(_) | Value::Number(_) => false,
        }
    }
    if secret.is_empty() {
        return false;
    }
    let raw = body.windows(secret.len()).any(|w| w == secret.as_bytes());
    raw || serde_json::from_slice::<Value>(body).is_ok_and(|v| in_value(&v, secret))
}

/// The start of a body, on one line, for a report.
pub(super) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut cut: String = line.chars().take(120).collect();
    if cut.len() < line.len() {
        cut.push('…');
    }
    if cut.is_empty() {
        "(empty)".to_owned()
    } else {
        cut
    }
}

#[cfg(test)]
#[path = "invariants_tests.rs"]
mod tests;
