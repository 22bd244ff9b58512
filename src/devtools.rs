//! Local-development commands that talk to a running Refresco over its API:
//! `refresco trigger <type>` fires a test event; `refresco listen --forward-to URL` prints new
//! events as they happen and forwards each, signed with a secret it prints, to a local URL
//! (like `stripe listen`), so a developer can receive webhooks without creating an endpoint.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::Value;

use crate::domain::{EventType, Timestamp};
use crate::webhooks::signing;

/// Where the server is and how to authenticate.
pub struct ApiTarget {
    /// e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    /// A test-mode secret key.
    pub api_key: String,
}

fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()?)
}

async fn json_or_error(response: reqwest::Response) -> anyhow::Result<Value> {
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .context("the server answered something other than JSON")?;
    if !status.is_success() {
        bail!(
            "{status}: {}",
            body["error"]["message"].as_str().unwrap_or("error")
        );
    }
    Ok(body)
}

/// Fires a test event of `event_type`; returns it.
pub async fn trigger(target: &ApiTarget, event_type: &str) -> anyhow::Result<Value> {
    let response = client()?
        .post(format!(
            "{}/v1/events/trigger",
            target.base_url.trim_end_matches('/')
        ))
        .header("Authorization", &target.api_key)
        .json(&serde_json::json!({ "type": event_type }))
        .send()
        .await
        .with_context(|| format!("reaching {}", target.base_url))?;
    json_or_error(response).await
}

/// What `listen` does with events.
pub struct ListenOptions {
    /// Where to forward each event.
    pub forward_to: Option<String>,
    /// Only these types (all when empty).
    pub events: Vec<EventType>,
    /// The secret forwarded events are signed with.
    pub secret: String,
    /// How often to look for new events.
    pub poll: Duration,
}

impl ListenOptions {
    /// Options with a fresh signing secret.
    pub fn new(forward_to: Option<String>, events: Vec<EventType>) -> Self {
        Self {
            forward_to,
            events,
            secret: signing::new_secret(),
            poll: Duration::from_millis(200),
        }
    }
}

/// Prints and forwards events created from now on, until `stop` fires. Each line printed is
/// `<created_at>  <type>  <id>  [-> <status or error>]`.
pub async fn listen(
    target: &ApiTarget,
    options: &ListenOptions,
    stop: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    let http = client()?;
    let base = target.base_url.trim_end_matches('/');
    let mut since = Timestamp::now().to_wire();
    let mut seen: HashSet<String> = HashSet::new();
    loop {
        let response = http
            .get(format!("{base}/v1/events"))
            // Samples too: `refresco trigger` makes them, to be seen here.
            .query(&[
                ("since", since.as_str()),
                ("per_page", "300"),
                ("include_samples", "true"),
            ])
            .header("Authorization", &target.api_key)
            .send()
            .await
            .with_context(|| format!("reaching {base}"))?;
        let page = json_or_error(response).await?;
        let mut events: Vec<Value> = page.as_array().cloned().unwrap_or_default();
        events.reverse(); // oldest first
        for event in events {
            let id = event["id"].as_str().unwrap_or_default().to_owned();
            if !seen.insert(id.clone()) {
                continue;
            }
            let created = event["created_at"].as_str().unwrap_or_default().to_owned();
            if created > since {
                since = created.clone();
            }
            let kind = event["type"].as_str().unwrap_or_default();
            if !options.events.is_empty() && !options.events.iter().any(|t| t.as_str() == kind) {
                continue;
            }
            let mut line = format!("{created}  {kind}  {id}");
            if let Some(url) = &options.forward_to {
                line.push_str(&format!(
                    "  -> {}",
                    forward(&http, url, &options.secret, &event).await
                ));
            }
            println!("{line}");
        }
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            () = tokio::time::sleep(options.poll) => {},
        }
    }
}

/// POSTs `event` signed like a real delivery; returns what happened, for the printed line.
async fn forward(http: &reqwest::Client, url: &str, secret: &str, event: &Value) -> String {
    let body = event.to_string();
    let t = Timestamp::now().millis() / 1000;
    let id = event["id"].as_str().unwrap_or_default();
    let result = http
        .post(url)
        .header("content-type", "application/json")
        .header(
            "fintoc-signature",
            signing::fintoc_signature(secret, t, body.as_bytes()),
        )
        .header("webhook-id", id)
        .header("webhook-timestamp", t.to_string())
        .header(
            "webhook-signature",
            signing::standard_signature(secret, id, t, body.as_bytes()),
        )
        .body(body)
        .send()
        .await;
    match result {
        Ok(response) => response.status().as_u16().to_string(),
        Err(e) => format!("error: {e}"),
    }
}
