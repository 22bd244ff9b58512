//! Signing in with the operator token. The browser keeps a cookie holding a keyed digest of the
//! token, never the token: any process with the same master key and token recognises it, and
//! changing the token signs everyone out. Forms that change something carry a second digest
//! (`csrf`), which a page of another site cannot read; the cookie is also `SameSite=Strict`.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::html::{self, esc, Section};
use crate::api::AppState;
use crate::operator;

/// The session cookie's name.
const COOKIE: &str = "refresco_operator";

/// A signed-in operator, with the value its forms must send back.
pub struct Operator {
    /// The `csrf` field of this session's forms.
    pub csrf: String,
}

fn session_value(state: &AppState, token: &str) -> String {
    state
        .keys
        .keyed_digest("refresco/operator-session/v1", &[token.as_bytes()])
}

fn csrf_of(state: &AppState, session: &str) -> String {
    state
        .keys
        .keyed_digest("refresco/operator-csrf/v1", &[session.as_bytes()])
}

fn cookie_of(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

/// The signed-in operator; otherwise the answer is the page saying how to turn the dashboard
/// on, or a redirect to sign in.
impl FromRequestParts<AppState> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(token) = &state.config.operator_token else {
            return Err(off());
        };
        let expected = session_value(state, token.expose());
        match cookie_of(&parts.headers) {
            Some(given) if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) => {
                Ok(Operator {
                    csrf: csrf_of(state, &expected),
                })
            }
            _ => Err(Redirect::to("/dashboard/sign-in").into_response()),
        }
    }
}

impl Operator {
    /// Whether a form's `csrf` field is this session's.
    pub fn csrf_ok(&self, given: &str) -> bool {
        given.as_bytes().ct_eq(self.csrf.as_bytes()).into()
    }
}

/// The answer to a form that is not from the operator's session.
pub fn csrf_refused() -> Response {
    html::respond(
        StatusCode::FORBIDDEN,
        html::page(
            "Form expired",
            Section::SignIn,
            None,
            "<p>This form is not from your session. Go back, reload the page and try again.</p>",
        ),
    )
}

/// The page shown when no operator token is configured.
fn off() -> Response {
    html::respond(
        StatusCode::NOT_FOUND,
        html::page(
            "Dashboard is off",
            Section::SignIn,
            None,
            &format!("<p class=\"notice\">{}</p>", esc(operator::HOW_TO_ENABLE)),
        ),
    )
}

fn sign_in_page(status: StatusCode, error: Option<&str>) -> Response {
    let error = error.map_or_else(String::new, |e| {
        format!(
            r#"<p class="error" role="alert" id="sign-in-error">{}</p>"#,
            esc(e)
        )
    });
    let described = if error.is_empty() {
        ""
    } else {
        r#" aria-describedby="sign-in-error""#
    };
    html::respond(
        status,
        html::page(
            "Sign in",
            Section::SignIn,
            None,
            &format!(
                r#"{error}<form method="post" action="/dashboard/sign-in" class="sign-in">
<label for="token">Operator token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus{described}>
<button type="submit">Sign in</button>
</form>
<p class="hint">The token is the server's <code>operator_token</code> setting (<code>REFRESCO_OPERATOR_TOKEN</code>).</p>"#
            ),
        ),
    )
}

/// `GET /dashboard/sign-in`.
pub async fn show_sign_in(State(state): State<AppState>) -> Response {
    if state.config.operator_token.is_none() {
        return off();
    }
    sign_in_page(StatusCode::OK, None)
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct SignInForm {
    token: String,
}

/// `POST /dashboard/sign-in`: a right token sets the session cookie.
pub async fn sign_in(State(state): State<AppState>, Form(form): Form<SignInForm>) -> Response {
    if state.config.operator_token.is_none() {
        return off();
    }
    if !operator::token_matches(&state.config, &state.keys, form.token.trim()) {
        return sign_in_page(
            StatusCode::UNAUTHORIZED,
            Some("That is not the operator token."),
        );
    }
    let secure = state
        .config
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    let cookie = format!(
        "{COOKIE}={}; Path=/dashboard; HttpOnly; SameSite=Strict{}",
        session_value(&state, form.token.trim()),
        if secure { "; Secure" } else { "" }
    );
    let mut response = Redirect::to("/dashboard").into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// A form that only carries its `csrf`.
#[derive(Deserialize)]
pub struct CsrfForm {
    /// The session's form value.
    pub csrf: String,
}

/// `POST /dashboard/sign-out`: forgets the cookie.
pub async fn sign_out(operator: Operator, Form(form): Form<CsrfForm>) -> Response {
    if !operator.csrf_ok(&form.csrf) {
        return csrf_refused();
    }
    let mut response = Redirect::to("/dashboard/sign-in").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "refresco_operator=; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    response
}
