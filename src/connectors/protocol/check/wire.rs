//! Raw HTTP calls to the connector under test. Answers stay bytes and `serde_json::Value`, not
//! the protocol's types, so the checks see exactly what was sent; and every answer is searched
//! for the credentials as it arrives, so none can slip through unread.

use std::error::Error as _;
use std::time::Duration;

use serde_json::Value;

use super::invariants::{contains_secret, excerpt};
use crate::connectors::protocol::{ErrorResponse, VERSION, VERSION_HEADER};

/// How long one call may take before the connector counts as not answering.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest answer read; a larger one is cut there (and then breaks the schema).
const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// One answer as it came.
pub(super) struct Reply {
    /// The HTTP status.
    pub(super) status: u16,
    /// The body, unparsed.
    pub(super) body: Vec<u8>,
}

impl Reply {
    /// The body of a 2xx answer as JSON; otherwise what went wrong, in words.
    pub(super) fn success(&self) -> Result<Value, String> {
        if !(200..300).contains(&self.status) {
            return Err(match serde_json::from_slice::<ErrorResponse>(&self.body) {
                Ok(answer) => format!(
                    "answered {} {}: {}",
                    self.status, answer.error.code, answer.error.message
                ),
                Err(_) => format!(
                    "answered {} without a protocol error: {}",
                    self.status,
                    excerpt(&self.body)
                ),
            });
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            format!(
                "answered {} with a body that is not JSON ({e}): {}",
                self.status,
                excerpt(&self.body)
            )
        })
    }
}

/// The connector service under test, and what must never come back from it.
pub(super) struct Wire {
    base: url::Url,
    token: String,
    http: reqwest::Client,
    /// What must never come back, each with how the report names it.
    secrets: Vec<(&'static str, String)>,
    /// The error objects of the non-2xx answers, with where they came from, for the class
    /// check.
    pub(super) errors: Vec<(String, Value)>,
    /// Where a secret came back: one line per answer that carried one.
    pub(super) leaks: Vec<String>,
    /// How many answers were read (and searched).
    pub(super) answers: usize,
}

impl Wire {
    /// The service at `url`, called with `token`; `secrets` must appear in no answer.
    pub(super) fn new(
        url: &str,
        token: &str,
        secrets: Vec<(&'static str, String)>,
    ) -> Result<Self, String> {
        let mut base = url::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(format!("{url:?} must start with http:// or https://"));
        }
        // Paths are relative to the service's URL, which may itself have a path.
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
        Ok(Self {
            base,
            token: token.to_owned(),
            http,
            secrets,
            leaks: Vec::new(),
            errors: Vec::new(),
            answers: 0,
        })
    }

    /// `GET path`.
    pub(super) async fn get(&mut self, path: &str) -> Result<Reply, String> {
        let url = self.url(path)?;
        let request = self.http.get(url);
        self.send(request, "GET", path).await
    }

    /// `POST path` with a JSON body.
    pub(super) async fn post(&mut self, path: &str, body: &Value) -> Result<Reply, String> {
        let url = self.url(path)?;
        let request = self.http.post(url).json(body);
        self.send(request, "POST", path).await
    }

    /// `POST path`, wanting a 2xx JSON answer.
    pub(super) async fn post_json(&mut self, path: &str, body: &Value) -> Result<Value, String> {
        self.post(path, body).await?.success()
    }

    fn url(&self, path: &str) -> Result<url::Url, String> {
        self.base
            .join(path)
            .map_err(|e| format!("{}{path}: {e}", self.base))
    }

    async fn send(
        &mut self,
        request: reqwest::RequestBuilder,
        method: &str,
        path: &str,
    ) -> Result<Reply, String> {
        let response = request
            .bearer_auth(&self.token)
            .header(VERSION_HEADER, VERSION.to_string())
            .send()
            .await
            .map_err(|e| self.unreachable(method, path, &e))?;
        let status = response.status().as_u16();
        let body = read_body(response)
            .await
            .map_err(|e| self.unreachable(method, path, &e))?;
        self.answers += 1;
        for (name, secret) in &self.secrets {
            if contains_secret(&body, secret) {
                self.leaks.push(format!(
                    "{method} /{path} answered {status} with {name} in it"
                ));
            }
        }
        if !(200..300).contains(&status) {
            let error = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|answer| answer.get("error").cloned());
            if let Some(error) = error {
                self.errors
                    .push((format!("{method} /{path} ({status})"), error));
            }
        }
        Ok(Reply { status, body })
    }

    fn unreachable(&self, method: &str, path: &str, error: &reqwest::Error) -> String {
        // reqwest's own text is "error sending request"; the cause (refused, timed out, reset)
        // is further down the chain.
        let mut text = error.to_string();
        let mut cause = error.source();
        while let Some(e) = cause {
            text.push_str(": ");
            text.push_str(&e.to_string());
            cause = e.source();
        }
        format!("{method} {}{path} got no answer: {text}", self.base)
    }
}

async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_ANSWER_BYTES.saturating_sub(body.len());
        if chunk.len() > room {
            body.extend_from_slice(chunk.get(..room).unwrap_or_default());
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
