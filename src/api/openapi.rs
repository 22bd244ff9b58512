//! The OpenAPI 3.1 document, generated from the handlers' annotations so it cannot drift from
//! the code, served at `GET /v1/openapi.json`.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    accounts, events, health, link_intents, links, refresh_intents, webhook_deliveries,
    webhook_endpoints, widget, widget_link_intents, wire, AppState,
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
    modifiers(&ApiKeyAuth)
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

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/openapi.json", get(|| async { Json(document()) }))
}
