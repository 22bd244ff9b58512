//! Webhook deliveries and their attempts: queueing, claiming with a lease, recording each
//! attempt (fenced by the lease), the attempt log.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::events::queue_delivery;
use super::rows::{get_flag, get_time};
use super::{flag, PageRequest, Paged, Store};
use crate::domain::*;

/// A delivery a dispatcher holds, with what it needs to send it.
#[derive(Clone, Debug)]
pub struct DueDelivery {
    /// The delivery.
    pub id: DeliveryId,
    /// Proof of the lease.
    pub lease_token: String,
    /// Attempts made before this one.
    pub attempts: i64,
    /// The endpoint.
    pub endpoint_id: WebhookEndpointId,
    /// Its URL.
    pub url: String,
    /// Its mode (decides which addresses it may reach).
    pub mode: Mode,
    /// Its sealed secret.
    pub sealed_secret: Vec<u8>,
    /// Since when it has been failing.
    pub failing_since: Option<Timestamp>,
    /// The event.
    pub event: Event,
}

/// What to do after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterAttempt {
    /// 2xx: done.
    Delivered,
    /// Try again at this time.
    RetryAt(Timestamp),
    /// No retries left.
    GiveUp,
    /// Stop: disable the endpoint for this reason (`gone`, `failing`).
    DisableEndpoint(&'static str),
}

fn attempt_from_row(row: &AnyRow) -> anyhow::Result<Attempt> {
    Ok(Attempt {
        id: AttemptId::from_trusted(row.try_get("id")?),
        delivery_id: DeliveryId::from_trusted(row.try_get("delivery_id")?),
        endpoint_id: WebhookEndpointId::from_trusted(row.try_get("endpoint_id")?),
        event_id: EventId::from_trusted(row.try_get("event_id")?),
        attempted_at: get_time(row, "attempted_at")?.unwrap_or(Timestamp::from_millis(0)),
        status_code: row
            .try_get::<Option<i64>, _>("status_code")?
            .and_then(|c| u16::try_from(c).ok()),
        latency_ms: row.try_get("latency_ms")?,
        response_body: row.try_get("response_body")?,
        error: row.try_get("error")?,
        succeeded: get_flag(row, "succeeded")?,
    })
}
impl Store {
    /// Queues a new delivery of `event` to `endpoint` (resend, test events).
    pub async fn queue_delivery(
        &self,
        event_id: &EventId,
        endpoint_id: &WebhookEndpointId,
    ) -> anyhow::Result<DeliveryId> {
        let mut tx = self.begin().await?;
        let id = queue_delivery(&mut tx, event_id, endpoint_id.as_str(), Timestamp::now()).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Queues again every delivery to `endpoint` that ended failed since `since` (one new
    /// delivery per event); returns how many.
    pub async fn recover_failed_deliveries(
        &self,
        endpoint_id: &WebhookEndpointId,
        since: Timestamp,
    ) -> anyhow::Result<u64> {
        let mut tx = self.begin().await?;
        let events: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT event_id FROM webhook_deliveries
             WHERE endpoint_id = $1 AND state = 'failed' AND created_at >= $2",
        )
        .bind(endpoint_id.as_str())
        .bind(since.millis())
        .fetch_all(&mut *tx)
        .await?;
        let now = Timestamp::now();
        for event in &events {
            queue_delivery(
                &mut tx,
                &EventId::from_trusted(event.clone()),
                endpoint_id.as_str(),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(events.len() as u64)
    }

    /// Claims up to `limit` due deliveries of enabled endpoints, at most `per_endpoint` in
    /// flight per endpoint (so one slow receiver cannot take every slot).
    pub async fn claim_deliveries(
        &self,
        lease_token: &str,
        limit: i64,
        per_endpoint: i64,
        lease_millis: i64,
    ) -> anyhow::Result<Vec<DueDelivery>> {
        let now = Timestamp::now().millis();
        let mut tx = self.begin().await?;
        // Candidates first (a window function caps each endpoint's share), then a
        // compare-and-set claim: a row another dispatcher took meanwhile fails the WHERE.
        // Deliveries in flight are counted once per endpoint (a grouped subquery joined in),
        // not once per candidate row: a correlated count made a claim quadratic in the backlog
        // of an endpoint (100,000 pending deliveries never started draining).
        let candidates: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM (
                 SELECT d.id, d.next_attempt_at,
                        ROW_NUMBER() OVER (PARTITION BY d.endpoint_id ORDER BY d.next_attempt_at, d.id) AS n,
                        COALESCE(f.in_flight, 0) AS in_flight
                 FROM webhook_deliveries d
                 JOIN webhook_endpoints e ON e.id = d.endpoint_id
                 LEFT JOIN (SELECT endpoint_id, COUNT(*) AS in_flight FROM webhook_deliveries
                             WHERE state = 'pending' AND lease_expires_at > $1
                             GROUP BY endpoint_id) f ON f.endpoint_id = d.endpoint_id
                 WHERE d.state = 'pending' AND d.next_attempt_at <= $1
                   AND (d.lease_expires_at IS NULL OR d.lease_expires_at <= $1)
                   AND e.disabled = 0 AND e.deleted_at IS NULL
             ) c
             WHERE c.n + c.in_flight <= $2
             ORDER BY c.next_attempt_at LIMIT $3",
        )
        .bind(now)
        .bind(per_endpoint)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let mut due = Vec::with_capacity(candidates.len());
        for id in candidates {
            let claimed = sqlx::query(
                "UPDATE webhook_deliveries SET lease_token = $1, lease_expires_at = $2
                 WHERE id = $3 AND state = 'pending'
                   AND (lease_expires_at IS NULL OR lease_expires_at <= $4)",
            )
            .bind(lease_token)
            .bind(now + lease_millis)
            .bind(&id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if claimed.rows_affected() != 1 {
                continue;
            }
            let row = sqlx::query(
                "SELECT d.attempts, d.endpoint_id, e.url, e.mode AS endpoint_mode, e.secret,
                        e.failing_since, v.*
                 FROM webhook_deliveries d
                 JOIN webhook_endpoints e ON e.id = d.endpoint_id
                 JOIN events v ON v.id = d.event_id
                 WHERE d.id = $1",
            )
            .bind(&id)
            .fetch_one(&mut *tx)
            .await?;
            let mode: String = row.try_get("endpoint_mode")?;
            due.push(DueDelivery {
                id: DeliveryId::from_trusted(id),
                lease_token: lease_token.to_owned(),
                attempts: row.try_get("attempts")?,
                endpoint_id: WebhookEndpointId::from_trusted(row.try_get("endpoint_id")?),
                url: row.try_get("url")?,
                mode: Mode::parse(&mode).ok_or_else(|| anyhow::anyhow!("bad mode"))?,
                sealed_secret: row.try_get("secret")?,
                failing_since: get_time(&row, "failing_since")?,
                event: super::events::event_from_row(&row)?,
            });
        }
        tx.commit().await?;
        Ok(due)
    }

    /// Records an attempt and what follows from it, fenced by the delivery's lease; false when
    /// the lease was lost (nothing written).
    pub async fn record_attempt(
        &self,
        delivery: &DueDelivery,
        attempt: &Attempt,
        next: AfterAttempt,
    ) -> anyhow::Result<bool> {
        let mut tx = self.begin().await?;
        let now = attempt.attempted_at.millis();
        let (state, next_at, finished) = match next {
            AfterAttempt::Delivered => ("delivered", now, Some(now)),
            AfterAttempt::RetryAt(at) => ("pending", at.millis(), None),
            AfterAttempt::GiveUp | AfterAttempt::DisableEndpoint(_) => ("failed", now, Some(now)),
        };
        let fenced = sqlx::query(
            "UPDATE webhook_deliveries SET state = $1, attempts = attempts + 1,
                 next_attempt_at = $2, finished_at = $3, lease_token = NULL, lease_expires_at = NULL
             WHERE id = $4 AND lease_token = $5 AND state = 'pending'",
        )
        .bind(state)
        .bind(next_at)
        .bind(finished)
        .bind(delivery.id.as_str())
        .bind(&delivery.lease_token)
        .execute(&mut *tx)
        .await?;
        if fenced.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO webhook_attempts (id, delivery_id, endpoint_id, event_id, attempted_at,
                 status_code, latency_ms, response_body, error, succeeded)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(attempt.id.as_str())
        .bind(delivery.id.as_str())
        .bind(delivery.endpoint_id.as_str())
        .bind(delivery.event.id.as_str())
        .bind(now)
        .bind(attempt.status_code.map(i64::from))
        .bind(attempt.latency_ms)
        .bind(attempt.response_body.as_deref())
        .bind(attempt.error.as_deref())
        .bind(flag(attempt.succeeded))
        .execute(&mut *tx)
        .await?;
        let endpoint = delivery.endpoint_id.as_str();
        match next {
            AfterAttempt::Delivered => {
                sqlx::query("UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1")
                    .bind(endpoint)
                    .execute(&mut *tx)
                    .await?;
            }
            AfterAttempt::DisableEndpoint(reason) => {
                sqlx::query(
                    "UPDATE webhook_endpoints SET disabled = 1, disabled_reason = $1,
                         failing_since = COALESCE(failing_since, $2) WHERE id = $3",
                )
                .bind(reason)
                .bind(now)
                .bind(endpoint)
                .execute(&mut *tx)
                .await?;
            }
            AfterAttempt::RetryAt(_) | AfterAttempt::GiveUp => {
                sqlx::query(
                    "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $1)
                     WHERE id = $2",
                )
                .bind(now)
                .bind(endpoint)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Attempts, newest first, of an endpoint or of an event (or both).
    pub async fn list_attempts(
        &self,
        endpoint_id: Option<&WebhookEndpointId>,
        event_id: Option<&EventId>,
        page: PageRequest,
    ) -> anyhow::Result<Paged<Attempt>> {
        const WHERE: &str = "($1 = '' OR endpoint_id = $1) AND ($2 = '' OR event_id = $2)";
        let endpoint = endpoint_id.map(|e| e.to_string()).unwrap_or_default();
        let event = event_id.map(|e| e.to_string()).unwrap_or_default();
        let count_sql = format!("SELECT COUNT(*) FROM webhook_attempts WHERE {WHERE}");
        let total: i64 = sqlx::query_scalar(&count_sql)
            .bind(&endpoint)
            .bind(&event)
            .fetch_one(&self.read)
            .await?;
        let list_sql = format!(
            "SELECT * FROM webhook_attempts WHERE {WHERE}
             ORDER BY attempted_at DESC, id DESC LIMIT $3 OFFSET $4"
        );
        let rows = sqlx::query(&list_sql)
            .bind(&endpoint)
            .bind(&event)
            .bind(page.limit())
            .bind(page.offset())
            .fetch_all(&self.read)
            .await?;
        Paged::from_rows(&rows, total, attempt_from_row)
    }

    /// Pending deliveries left (for tests, benchmarks and operators).
    pub async fn pending_deliveries(&self) -> anyhow::Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'pending'")
                .fetch_one(&self.read)
                .await?,
        )
    }
}
