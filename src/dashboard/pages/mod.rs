//! One module per page (or group of pages) of the dashboard.

pub mod events;
pub mod links;
pub mod overview;
pub mod webhooks;

use axum::http::StatusCode;
use axum::response::Response;

use super::html::{self, Section};

/// A page that could not be made: the cause is logged, the page says only that it failed.
fn failed(error: anyhow::Error) -> Response {
    tracing::error!(error = format!("{error:#}"), "a dashboard page failed");
    html::respond(
        StatusCode::INTERNAL_SERVER_ERROR,
        html::page(
            "Something went wrong",
            Section::SignIn,
            None,
            "<p>This page could not be made; the server's log says why. Try again.</p>",
        ),
    )
}
