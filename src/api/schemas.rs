//! Schemas of the OpenAPI document that the derive attributes cannot say by themselves: the
//! sets of values a handler accepts, built from the same lists the handlers read. (A required
//! text field that must not be blank is documented with the pattern `\S` in place, since the
//! derive attributes take only literal patterns.)

use utoipa::openapi::schema::{
    AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{KnownFormat, Object};

use crate::domain::EventType;

/// An object id with its prefix (`link_…`), as the id parsers accept it.
pub fn id_pattern(prefix: &str) -> String {
    format!("^{prefix}[A-Za-z0-9]{{1,64}}$")
}

fn string_enum<I: IntoIterator<Item = S>, S: Into<String>>(values: I) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.into_iter().map(Into::into)))
        .build()
}

/// One event type, by its wire name.
pub fn event_type() -> Object {
    string_enum(EventType::ALL.map(EventType::as_str))
}

/// An endpoint's subscription: event types, or `["*"]` for all of them. Besides the types
/// Refresco emits, other Fintoc products' `resource.event` types are accepted (and never
/// delivered), as Fintoc accepts them.
pub fn enabled_events() -> utoipa::openapi::schema::Array {
    let emitted = EventType::ALL.map(EventType::as_str).join(", ");
    let name = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(r"^(\*|[a-z_]+(\.[a-z_]+)+)$"))
        .max_length(Some(100))
        .description(Some(format!(
            "`*`, or an event type. Delivered: {emitted}. Other products' types (not under \
             `account.` or `link.`) are accepted and never delivered."
        )))
        .build();
    ArrayBuilder::new().items(name).min_items(Some(1)).build()
}

/// [`enabled_events`], or `null` for "unchanged" (in a `PATCH`).
pub fn enabled_events_or_null() -> utoipa::openapi::schema::Array {
    let mut array = enabled_events();
    array.schema_type = SchemaType::from_iter([Type::Array, Type::Null]);
    array
}

/// A date (`2024-01-31`) or an RFC 3339 date-time (`2024-01-31T12:00:00Z`).
pub fn date_or_time() -> Schema {
    let with = |format| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(format)))
            .build()
    };
    AnyOfBuilder::new()
        .item(with(KnownFormat::Date))
        .item(with(KnownFormat::DateTime))
        .build()
        .into()
}

/// A webhook receiver URL, as documented and as checked: http or https (any case), a host name
/// whose labels start with a letter or a dotted IPv4 address, an optional port (to 65535), a
/// path and a query of RFC 3986 characters, no fragment, no user info. (IPv6 literals are not
/// taken.)
pub const WEBHOOK_URL_PATTERN: &str = concat!(
    r"^[Hh][Tt][Tt][Pp][Ss]?://",
    r"([A-Za-z][A-Za-z0-9-]*(\.[A-Za-z][A-Za-z0-9-]*)*",
    r"|((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9]))",
    r"(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?",
    r"(/[A-Za-z0-9._~!$&'()*+,;=:@%-]*)*",
    r"(\?[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$"
);

/// A webhook receiver URL ([`WEBHOOK_URL_PATTERN`], at most 2048 characters).
pub fn webhook_url() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(WEBHOOK_URL_PATTERN))
        .max_length(Some(2048))
        .build()
}

/// [`webhook_url`], or `null` for "unchanged" (in a `PATCH`).
pub fn webhook_url_or_null() -> Object {
    let mut url = webhook_url();
    url.schema_type = SchemaType::from_iter([Type::String, Type::Null]);
    url
}

/// A link id (`link_…`).
pub fn link_id() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(id_pattern("link_")))
        .build()
}
