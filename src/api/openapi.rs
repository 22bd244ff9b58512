//! The OpenAPI 3.1 document, generated from the handlers' annotations so it cannot drift from
//! the code, served at `GET /v1/openapi.json`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use utoipa::openapi::schema::{AllOfBuilder, AnyOfBuilder, ObjectBuilder, Schema};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::{Modify, OpenApi};

use crate::connectors::Registry;

use super::{
    accounts, events, health, institutions, link_intents, links, refresh_intents,
    webhook_deliveries, webhook_endpoints, widget, widget_link_intents, wire, AppState,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "Refresco", description = "Fintoc-compatible refresh API (Movements)."),
    paths(
        health::healthz,
        health::readyz,
        links::create_link,
        links::list_links,
        links::get_link,
        links::update_link,
        links::delete_link,
        accounts::list_accounts,
        accounts::get_account,
        accounts::list_movements,
        accounts::get_movement,
        institutions::list_institutions,
        refresh_intents::create_refresh_intent,
        refresh_intents::get_refresh_intent,
        refresh_intents::list_refresh_intents,
        refresh_intents::answer_refresh_intent_mfa,
        widget::get_widget_refresh_intent,
        widget::answer_widget_mfa,
        events::list_events,
        events::get_event,
        events::trigger_event,
        webhook_endpoints::create_endpoint,
        webhook_endpoints::list_endpoints,
        webhook_endpoints::get_endpoint,
        webhook_endpoints::update_endpoint,
        webhook_endpoints::delete_endpoint,
        webhook_endpoints::test_endpoint,
        webhook_deliveries::list_endpoint_attempts,
        webhook_deliveries::list_event_attempts,
        webhook_deliveries::resend_event,
        webhook_deliveries::recover_endpoint,
        link_intents::create_link_intent,
        link_intents::get_link_intent,
        link_intents::exchange_link,
        widget_link_intents::get_widget_link_intent,
        widget_link_intents::list_widget_institutions,
        widget_link_intents::submit_widget_credentials,
        widget_link_intents::answer_widget_link_mfa,
    ),
    components(schemas(wire::ErrorBody, wire::ErrorObject, links::LinkIn, links::LinkPatch)),
    modifiers(&ApiKeyAuth, &MfaAnswerRequired, &PatchBodyOptional)
)]
struct ApiDoc;

/// Declares the `Authorization: <key>` scheme.
struct ApiKeyAuth;

impl Modify for ApiKeyAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "A secret key (sk_test_… or sk_live_…), raw or after `Bearer `.",
            ))),
        );
    }
}

/// A second-factor answer needs a non-blank `code` or `approved: true` (see
/// `refresh_intents::MfaIn::answer`), which the derived schema cannot say.
struct MfaAnswerRequired;

impl Modify for MfaAnswerRequired {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(schemas) = openapi.components.as_mut().map(|c| &mut c.schemas) else {
            return;
        };
        let Some(fields) = schemas.remove("MfaIn") else {
            return;
        };
        let approved = ObjectBuilder::new()
            .property("approved", ObjectBuilder::new().enum_values(Some([true])))
            .required("approved");
        let one_of_them = AnyOfBuilder::new()
            .item(ObjectBuilder::new().required("code"))
            .item(approved);
        let schema = AllOfBuilder::new().item(fields).item(one_of_them).build();
        schemas.insert("MfaIn".to_owned(), RefOr::T(Schema::AllOf(schema)));
    }
}

/// A `PATCH` without a body changes nothing and answers the object (the body extractor reads
/// an empty body as `{}`), so its body is optional.
struct PatchBodyOptional;

impl Modify for PatchBodyOptional {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            if let Some(body) = item.patch.as_mut().and_then(|op| op.request_body.as_mut()) {
                body.required = Some(utoipa::openapi::Required::False);
            }
        }
    }
}

/// The document, without what depends on the configuration (see [`document_for`]).
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document this server serves: [`document`] with the institutions it can connect and
/// their countries as the accepted values of `institution_id` and `country`, so that the
/// document promises no bank the server would refuse as unknown.
pub fn document_for(registry: &Registry) -> utoipa::openapi::OpenApi {
    let mut doc = document();
    let institutions = registry.list();
    let mut countries: Vec<&str> = institutions.iter().map(|i| &*i.country).collect();
    countries.dedup();
    countries.sort_unstable();
    countries.dedup();
    let ids: Vec<&str> = institutions.iter().map(|i| &*i.id).collect();
    set_enum(&mut doc, "LinkIn", "institution_id", &ids);
    set_enum(&mut doc, "LinkIntentIn", "country", &countries);
    doc
}

/// Restricts property `field` of component `schema` to `values`.
fn set_enum(doc: &mut utoipa::openapi::OpenApi, schema: &str, field: &str, values: &[&str]) {
    let property = doc
        .components
        .as_mut()
        .and_then(|c| c.schemas.get_mut(schema))
        .and_then(|s| match s {
            RefOr::T(Schema::Object(object)) => object.properties.get_mut(field),
            _ => None,
        });
    match property {
        Some(RefOr::T(Schema::Object(property))) => {
            property.enum_values = Some(values.iter().map(|v| json!(v)).collect());
        }
        // A renamed type or field would silently widen the document: fail the document test.
        _ => debug_assert!(false, "no property {schema}.{field} in the document"),
    }
}

/// [`document_for`] as served: every text a request body may carry also says that it holds
/// no NUL character, which every body is checked for (see `body_text`). It is added here, to
/// the JSON, because one rule for every field reads better than an attribute on each.
pub fn served_document(registry: &Registry) -> serde_json::Value {
    let mut doc = serde_json::to_value(document_for(registry)).unwrap_or_default();
    let components = doc["components"]["schemas"].clone();
    let mut patched = components.clone();
    let mut seen = std::collections::HashSet::new();
    if let Some(paths) = doc["paths"].as_object_mut() {
        let operations = paths
            .values_mut()
            .filter_map(|item| item.as_object_mut())
            .flat_map(|methods| methods.values_mut());
        for operation in operations {
            // `get_mut`, not indexing: indexing a missing key would insert it.
            let body = operation
                .get_mut("requestBody")
                .and_then(|b| b.get_mut("content"))
                .and_then(|c| c.get_mut("application/json"))
                .and_then(|j| j.get_mut("schema"));
            if let Some(body) = body {
                forbid_nul(body, &mut patched, &components, &mut seen);
            }
        }
    }
    doc["components"]["schemas"] = patched;
    doc
}

/// Adds "holds no NUL" to every text schema within `node`, following references into the
/// components (each once, patched in `patched`).
fn forbid_nul(
    node: &mut serde_json::Value,
    patched: &mut serde_json::Value,
    components: &serde_json::Value,
    seen: &mut std::collections::HashSet<String>,
) {
    use serde_json::Value;
    if let Some(name) = node["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
    {
        if let (true, Some(component)) = (seen.insert(name.to_owned()), components.get(name)) {
            let mut component = component.clone();
            forbid_nul(&mut component, patched, components, seen);
            if let Some(slot) = patched.get_mut(name) {
                *slot = component;
            }
        }
        return;
    }
    let Some(object) = node.as_object_mut() else {
        return;
    };
    let text = match object.get("type") {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(types)) => types.iter().any(|t| t == "string"),
        _ => false,
    };
    if text {
        // Only a string holding NUL fails: `not` of a schema that numbers and nulls also meet
        // would refuse them.
        object.insert("not".into(), json!({"type": "string", "pattern": "\\x00"}));
    }
    for key in ["items", "additionalProperties"] {
        if let Some(child) = object.get_mut(key) {
            forbid_nul(child, patched, components, seen);
        }
    }
    if let Some(Value::Object(properties)) = object.get_mut("properties") {
        for child in properties.values_mut() {
            forbid_nul(child, patched, components, seen);
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(children)) = object.get_mut(key) {
            for child in children {
                forbid_nul(child, patched, components, seen);
            }
        }
    }
}

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new().route(
        "/v1/openapi.json",
        get(|State(state): State<AppState>| async move { Json(served_document(&state.registry)) }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::SandboxConfig;

    #[test]
    fn request_text_says_it_holds_no_nul_and_nothing_else_changes() {
        let registry = Registry::sandbox(SandboxConfig::default());
        let served = served_document(&registry);
        let plain = serde_json::to_value(document_for(&registry)).unwrap();
        let no_nul = json!({"type": "string", "pattern": "\\x00"});
        let schemas = &served["components"]["schemas"];
        assert_eq!(schemas["LinkIn"]["properties"]["password"]["not"], no_nul);
        // Inside a composed schema, and in an array's items.
        let mfa = serde_json::to_string(&schemas["MfaIn"]).unwrap();
        assert!(mfa.contains(r#""pattern":"\\x00""#), "{mfa}");
        // A number or a boolean gets no such rule; answers are left alone.
        assert!(
            schemas["MfaIn"].to_string().matches("\\\\x00").count() == 1,
            "only `code`"
        );
        assert_eq!(
            schemas["ErrorBody"],
            plain["components"]["schemas"]["ErrorBody"]
        );
        // No operation gained a body: the paths differ only inside request bodies.
        for (path, item) in served["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let had = plain["paths"][path][method].get("requestBody").is_some();
                assert_eq!(
                    operation.get("requestBody").is_some(),
                    had,
                    "{method} {path}"
                );
            }
        }
    }
}
