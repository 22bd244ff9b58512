//! Text with a NUL character in a request body. PostgreSQL cannot store NUL in text and SQLite
//! would, so every body is checked here, where it is parsed, before any handler or backend sees
//! it: a field the request type reads is refused with a 400 naming it, on both backends. A
//! field it ignores (unknown parameters are ignored, as on Fintoc) is never stored, so NUL there
//! is let through like any other ignored value, and so is one inside the fields of free-form
//! JSON ([`FREE_FORM`]), which are stored as JSON text where NUL is the escape `\u0000`. Query
//! strings carry no stored text: a NUL there only fails to match, as any other wrong value.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// Top-level body fields that hold free-form JSON (`POST /v1/events/trigger`'s `overrides`),
/// stored only inside serialized JSON.
const FREE_FORM: &[&str] = &["overrides"];

/// Why a body could not become its request type.
#[derive(Debug)]
pub(super) enum BodyError {
    /// A field has the wrong type or value.
    Invalid {
        /// Which field (`None`: the body as a whole, e.g. a required field is missing).
        param: Option<String>,
        /// What was wrong with it.
        error: serde_json::Error,
    },
    /// The text of this field (shown as `metadata.note`, `enabled_events[1]`) holds NUL.
    Nul(String),
}

/// Reads `value` as a `T`, unless a field `T` reads holds a NUL character.
pub(super) fn from_body<T: DeserializeOwned>(value: &Value) -> Result<T, BodyError> {
    let mut ignored: Vec<Vec<Step>> = FREE_FORM
        .iter()
        .map(|field| vec![Step::Key((*field).to_owned())])
        .collect();
    let mut track = serde_path_to_error::Track::new();
    let mut note_ignored = |path: serde_ignored::Path<'_>| ignored.push(steps(&path));
    let parsed = T::deserialize(serde_path_to_error::Deserializer::new(
        serde_ignored::Deserializer::new(value, &mut note_ignored),
        &mut track,
    ))
    .map_err(|error| BodyError::Invalid {
        param: param_of(&track.path()),
        error,
    })?;
    match first_nul(value, &mut Vec::new(), &ignored) {
        Some(path) => Err(BodyError::Nul(shown(&path))),
        None => Ok(parsed),
    }
}

/// The field a type error is about, written as [`shown`] writes paths; `None` at the root.
fn param_of(path: &serde_path_to_error::Path) -> Option<String> {
    use serde_path_to_error::Segment;
    let steps: Vec<Step> = path
        .iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(Step::Index(*index)),
            Segment::Map { key } => Some(Step::Key(key.clone())),
            Segment::Enum { .. } | Segment::Unknown => None,
        })
        .collect();
    (!steps.is_empty()).then(|| shown(&steps))
}

/// One step of a path into a JSON body.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// The steps of a path `serde_ignored` reports (its wrappers of options and newtypes are no
/// steps in the JSON).
fn steps(path: &serde_ignored::Path<'_>) -> Vec<Step> {
    use serde_ignored::Path;
    match path {
        Path::Root => Vec::new(),
        Path::Seq { parent, index } => [steps(parent), vec![Step::Index(*index)]].concat(),
        Path::Map { parent, key } => [steps(parent), vec![Step::Key(key.clone())]].concat(),
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => steps(parent),
    }
}

/// The first text (a string, or an object's key) holding NUL in `value`, found at `at`,
/// outside the `ignored` paths.
fn first_nul(value: &Value, at: &mut Vec<Step>, ignored: &[Vec<Step>]) -> Option<Vec<Step>> {
    if ignored.contains(at) {
        return None;
    }
    let mut within = |step: Step, key: Option<&str>, item: &Value| {
        at.push(step);
        let found = if ignored.contains(at) {
            None
        } else if key.is_some_and(|k| k.contains('\0')) {
            Some(at.clone())
        } else {
            first_nul(item, at, ignored)
        };
        at.pop();
        found
    };
    match value {
        Value::String(text) => text.contains('\0').then(|| at.clone()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| within(Step::Index(i), None, item)),
        Value::Object(fields) => fields
            .iter()
            .find_map(|(key, item)| within(Step::Key(key.clone()), Some(key), item)),
        _ => None,
    }
}

/// `metadata.note`, `enabled_events[1]`; a NUL in a key is shown as `\u0000`.
fn shown(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&key.replace('\0', "\\u0000"));
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Endpoint {
        description: Option<String>,
        enabled_events: Option<Vec<String>>,
        metadata: Option<Value>,
    }

    fn nul_in(value: Value) -> Option<String> {
        match from_body::<Endpoint>(&value) {
            Err(BodyError::Nul(path)) => Some(path),
            Err(BodyError::Invalid { error, .. }) => panic!("{error}"),
            Ok(_) => None,
        }
    }

    #[test]
    fn a_nul_in_a_field_read_is_found_by_its_path() {
        assert_eq!(
            nul_in(json!({"description": "a\u{0}b"})).as_deref(),
            Some("description")
        );
        assert_eq!(
            nul_in(json!({"enabled_events": ["*", "x\u{0}"]})).as_deref(),
            Some("enabled_events[1]")
        );
        assert_eq!(
            nul_in(json!({"metadata": {"note": ["ok", "x\u{0}"]}})).as_deref(),
            Some("metadata.note[1]")
        );
        assert_eq!(
            nul_in(json!({"metadata": {"k\u{0}": 1}})).as_deref(),
            Some("metadata.k\\u0000"),
            "a key is named without its raw NUL"
        );
        assert_eq!(
            nul_in(json!({"description": "\\u0000 written out", "metadata": [1, null]})),
            None
        );
    }

    #[test]
    fn a_nul_in_free_form_json_is_let_through() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Trigger {
            #[serde(rename = "type")]
            kind: String,
            overrides: Option<Value>,
        }
        let body = json!({"type": "link.created", "overrides": {"k\u{0}": ["\u{0}"]}});
        assert!(from_body::<Trigger>(&body).is_ok());
        let body = json!({"type": "link.created\u{0}"});
        assert!(matches!(from_body::<Trigger>(&body), Err(BodyError::Nul(p)) if p == "type"));
    }

    #[test]
    fn a_nul_in_an_ignored_field_is_let_through() {
        assert_eq!(
            nul_in(json!({"unknown": "a\u{0}b", "k\u{0}": {"x": "\u{0}"}})),
            None
        );
        assert_eq!(
            nul_in(json!({"unknown\u{0}": 1, "description": "\u{0}"})).as_deref(),
            Some("description")
        );
    }
}
