//! `/dashboard`: the operator's pages, served by the binary and working offline. Pages are
//! HTML made on the server; one stylesheet and one small script, embedded from the top-level
//! `dashboard/` directory, are all they load (nothing from another site: the policy allows
//! only this server).
//!
//! Sign-in is with the operator token ([`crate::operator`]); without one configured, every
//! page says how to turn the dashboard on. Every organization and both modes are shown, with
//! test and live marked apart; no key, token, credential or webhook secret is ever read for a
//! page.

mod charts;
mod html;
mod pages;
mod session;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;

use crate::api::AppState;

const CSS: &str = include_str!("../../dashboard/dashboard.css");
const JS: &str = include_str!("../../dashboard/dashboard.js");

/// The dashboard's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(pages::overview::show))
        .route(
            "/dashboard/sign-in",
            get(session::show_sign_in).post(session::sign_in),
        )
        .route("/dashboard/sign-out", post(session::sign_out))
        .route("/dashboard/links", get(pages::links::list))
        .route("/dashboard/links/{id}", get(pages::links::show))
        .route("/dashboard/events", get(pages::events::list))
        .route("/dashboard/events/{id}", get(pages::events::show))
        .route("/dashboard/events/{id}/resend", post(pages::events::resend))
        .route("/dashboard/webhooks", get(pages::webhooks::list))
        .route(
            "/dashboard/webhooks/{id}/recover",
            post(pages::webhooks::recover),
        )
        .route(
            "/dashboard/assets/dashboard.css",
            get(|| async {
                ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response()
            }),
        )
        .route(
            "/dashboard/assets/dashboard.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    JS,
                )
                    .into_response()
            }),
        )
}
