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

/// A link id (`link_…`).
pub fn link_id() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(id_pattern("link_")))
        .build()
}
