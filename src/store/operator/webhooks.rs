//! Events with their deliveries and attempts, and webhook endpoints with their health, across
//! every organization, for the dashboard. Never an endpoint's sealed secret.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::store::Store;

/// An event, as listed for a link.
#[derive(Clone, Debug)]
pub struct OpsEvent {
    /// `evt_…`
    pub id: String,
    /// The owning organization's name.
    pub organization: String,
    /// `live` or `test`.
    pub mode: String,
    /// `refresh_intent.succeeded`…
    pub event_type: String,
    /// The link it is about, if any.
    pub link_id: Option<String>,
    /// Epoch milliseconds.
    pub created_at: i64,
}

/// One delivery of an event to an endpoint, with its attempts, oldest first.
#[derive(Clone, Debug)]
pub struct OpsDelivery {
    /// `whd_…`
    pub id: String,
    /// `we_…`
    pub endpoint_id: String,
    /// The endpoint's URL.
    pub url: String,
    /// `pending`, `delivered`, `failed`, `canceled`.
    pub state: String,
    /// Epoch milliseconds.
    pub created_at: i64,
    /// Its attempts.
    pub attempts: Vec<OpsAttempt>,
}

/// One attempt.
#[derive(Clone, Debug)]
pub struct OpsAttempt {
    /// `wha_…`
    pub id: String,
    /// Epoch milliseconds.
    pub attempted_at: i64,
    /// The receiver's status, when it answered.
    pub status_code: Option<i64>,
    /// Milliseconds to the end of the answer.
    pub latency_ms: i64,
    /// The start of the answer.
    pub response_body: Option<String>,
    /// Why there was no answer.
    pub error: Option<String>,
    /// 2xx.
    pub succeeded: bool,
}

/// An endpoint and how its deliveries go.
#[derive(Clone, Debug)]
pub struct OpsEndpoint {
    /// `we_…`
    pub id: String,
    /// The owning organization's id.
    pub organization_id: String,
    /// The owning organization's name.
    pub organization: String,
    /// `live` or `test`.
    pub mode: String,
    /// Where it delivers.
    pub url: String,
    /// Disabled, and why (`gone`, `failing`, `client`).
    pub disabled_reason: Option<String>,
    /// Whether it is disabled.
    pub disabled: bool,
    /// Epoch milliseconds since its deliveries fail without a success.
    pub failing_since: Option<i64>,
    /// Attempts in the window asked for, and how many succeeded.
    pub attempts: i64,
    /// Succeeded.
    pub succeeded: i64,
    /// The latest failed attempt's error or status.
    pub last_error: Option<String>,
}

fn attempt_of(row: &AnyRow) -> anyhow::Result<OpsAttempt> {
    Ok(OpsAttempt {
        id: row.try_get("id")?,
        attempted_at: row.try_get("attempted_at")?,
        status_code: row.try_get("status_code")?,
        latency_ms: row.try_get("latency_ms")?,
        response_body: row.try_get("response_body")?,
        error: row.try_get("error")?,
        succeeded: row.try_get::<i64, _>("succeeded")? != 0,
    })
}

const EVENT_SELECT: &str = "SELECT e.id, o.name AS organization, e.mode, e.event_type,
        e.link_id, e.created_at
    FROM events e JOIN organizations o ON o.id = e.organization_id";

fn event_of(row: &AnyRow) -> anyhow::Result<OpsEvent> {
    Ok(OpsEvent {
        id: row.try_get("id")?,
        organization: row.try_get("organization")?,
        mode: row.try_get("mode")?,
        event_type: row.try_get("event_type")?,
        link_id: row.try_get("link_id")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// The latest `limit` events about a link, newest first.
    pub async fn ops_link_events(
        &self,
        link_id: &str,
        limit: i64,
    ) -> anyhow::Result<Vec<OpsEvent>> {
        let rows = sqlx::query(&format!(
            "{EVENT_SELECT} WHERE e.link_id = $1 ORDER BY e.created_at DESC, e.id DESC LIMIT $2"
        ))
        .bind(link_id)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(event_of).collect()
    }

    /// The latest `limit` events of every organization, newest first.
    pub async fn ops_events(&self, limit: i64) -> anyhow::Result<Vec<OpsEvent>> {
        let rows = sqlx::query(&format!(
            "{EVENT_SELECT} ORDER BY e.created_at DESC, e.id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(event_of).collect()
    }

    /// One event with its deliveries and their attempts.
    pub async fn ops_event(
        &self,
        id: &str,
    ) -> anyhow::Result<Option<(OpsEvent, Vec<OpsDelivery>)>> {
        let Some(row) = sqlx::query(&format!("{EVENT_SELECT} WHERE e.id = $1"))
            .bind(id)
            .fetch_optional(&self.read)
            .await?
        else {
            return Ok(None);
        };
        let event = event_of(&row)?;
        let rows = sqlx::query(
            "SELECT d.id, d.endpoint_id, w.url, d.state, d.created_at
             FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
             WHERE d.event_id = $1 ORDER BY d.created_at, d.id",
        )
        .bind(id)
        .fetch_all(&self.read)
        .await?;
        let mut deliveries = Vec::with_capacity(rows.len());
        for row in &rows {
            deliveries.push(OpsDelivery {
                id: row.try_get("id")?,
                endpoint_id: row.try_get("endpoint_id")?,
                url: row.try_get("url")?,
                state: row.try_get("state")?,
                created_at: row.try_get("created_at")?,
                attempts: Vec::new(),
            });
        }
        let rows = sqlx::query(
            "SELECT id, delivery_id, attempted_at, status_code, latency_ms, response_body, error,
                    succeeded
             FROM webhook_attempts WHERE event_id = $1 ORDER BY attempted_at, id",
        )
        .bind(id)
        .fetch_all(&self.read)
        .await?;
        for row in &rows {
            let delivery_id: String = row.try_get("delivery_id")?;
            if let Some(delivery) = deliveries.iter_mut().find(|d| d.id == delivery_id) {
                delivery.attempts.push(attempt_of(row)?);
            }
        }
        Ok(Some((event, deliveries)))
    }

    /// Endpoints not deleted, with their attempts since `since` (epoch milliseconds).
    pub async fn ops_endpoints(&self, since: i64) -> anyhow::Result<Vec<OpsEndpoint>> {
        let rows = sqlx::query(
            "SELECT w.id, w.organization_id, o.name AS organization, w.mode, w.url, w.disabled, w.disabled_reason,
                    w.failing_since,
                    (SELECT COUNT(*) FROM webhook_attempts a
                     WHERE a.endpoint_id = w.id AND a.attempted_at >= $1) AS attempts,
                    (SELECT COUNT(*) FROM webhook_attempts a
                     WHERE a.endpoint_id = w.id AND a.attempted_at >= $1
                       AND a.succeeded = 1) AS succeeded,
                    (SELECT COALESCE(a.error, 'HTTP ' || CAST(a.status_code AS TEXT))
                     FROM webhook_attempts a WHERE a.endpoint_id = w.id AND a.succeeded = 0
                     ORDER BY a.attempted_at DESC LIMIT 1) AS last_error
             FROM webhook_endpoints w JOIN organizations o ON o.id = w.organization_id
             WHERE w.deleted_at IS NULL
             ORDER BY o.name, w.mode, w.created_at, w.id",
        )
        .bind(since)
        .fetch_all(&self.read)
        .await?;
        let mut endpoints = Vec::with_capacity(rows.len());
        for row in &rows {
            endpoints.push(OpsEndpoint {
                id: row.try_get("id")?,
                organization_id: row.try_get("organization_id")?,
                organization: row.try_get("organization")?,
                mode: row.try_get("mode")?,
                url: row.try_get("url")?,
                disabled: row.try_get::<i64, _>("disabled")? != 0,
                disabled_reason: row.try_get("disabled_reason")?,
                failing_since: row.try_get("failing_since")?,
                attempts: row.try_get("attempts")?,
                succeeded: row.try_get("succeeded")?,
                last_error: row.try_get("last_error")?,
            });
        }
        Ok(endpoints)
    }
}
