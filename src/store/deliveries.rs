//! Webhook deliveries and their attempts: queueing, recording each attempt (fenced by the
//! lease its claim took, see `delivery_claims`), the attempt log.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::events::queue_deliveries;
use super::row_writes::RowsStatement;
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

/// What a batch of attempts does to their endpoint, folded in the order they were made, so
/// the endpoint is written once per batch and ends as if they had been recorded one by one.
#[derive(Debug, Default, PartialEq, Eq)]
struct EndpointEffect {
    /// `failing_since` afterwards.
    failing: Failing,
    /// The first reason in the batch to disable the endpoint.
    disable: Option<&'static str>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Failing {
    #[default]
    Unchanged,
    /// A delivery succeeded last: not failing.
    Clear,
    /// Failing since this time unless it already was.
    SinceIfUnset(i64),
    /// Failing since this time (a success earlier in the batch cleared the old value).
    Since(i64),
}

impl EndpointEffect {
    fn after(&mut self, next: AfterAttempt, at: i64) {
        if next == AfterAttempt::Delivered {
            self.failing = Failing::Clear;
            return;
        }
        if let AfterAttempt::DisableEndpoint(reason) = next {
            self.disable.get_or_insert(reason);
        }
        self.failing = match self.failing {
            Failing::Unchanged => Failing::SinceIfUnset(at),
            Failing::Clear => Failing::Since(at),
            // Already failing earlier in the batch: that earlier time stands.
            kept => kept,
        };
    }

    async fn apply(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        endpoint: &str,
    ) -> anyhow::Result<()> {
        let (how, since) = match self.failing {
            Failing::Unchanged => (0_i64, None),
            Failing::Clear => (1, None),
            Failing::SinceIfUnset(at) => (2, Some(at)),
            Failing::Since(at) => (3, Some(at)),
        };
        if how == 0 && self.disable.is_none() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE webhook_endpoints
             SET disabled = CASE WHEN $2 = 1 THEN 1 ELSE disabled END,
                 disabled_reason = COALESCE($3, disabled_reason),
                 failing_since = CASE $4 WHEN 0 THEN failing_since WHEN 1 THEN NULL
                                         WHEN 2 THEN COALESCE(failing_since, $5) ELSE $5 END
             WHERE id = $1",
        )
        .bind(endpoint)
        .bind(flag(self.disable.is_some()))
        .bind(self.disable)
        .bind(how)
        .bind(since)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
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
        let ids = queue_deliveries(
            &mut tx,
            &[(event_id, endpoint_id.as_str())],
            Timestamp::now(),
        )
        .await?;
        tx.commit().await?;
        ids.into_iter()
            .next()
            .ok_or_else(|| anyhow::anyhow!("no delivery was queued"))
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
        let events: Vec<EventId> = events.into_iter().map(EventId::from_trusted).collect();
        let deliveries: Vec<(&EventId, &str)> = events
            .iter()
            .map(|event| (event, endpoint_id.as_str()))
            .collect();
        queue_deliveries(&mut tx, &deliveries, Timestamp::now()).await?;
        tx.commit().await?;
        Ok(events.len() as u64)
    }

    /// Records attempts and what follows from each, in one transaction (a dispatcher
    /// gathers the attempts that finish while the previous batch commits). Each is fenced by
    /// its delivery's lease: the answer says, per attempt, whether it was recorded (false:
    /// the lease was lost, nothing of it written).
    pub async fn record_attempts(
        &self,
        batch: &[(&DueDelivery, &Attempt, AfterAttempt)],
    ) -> anyhow::Result<Vec<bool>> {
        let mut tx = self.begin().await?;
        // Each delivery moves on only while its lease is ours: one fenced UPDATE for the
        // whole batch (a statement per delivery was one writer round trip per delivery), and
        // the ids it returns say which were recorded.
        let statement = RowsStatement::new(
            "UPDATE webhook_deliveries SET state = v.column2,
                 attempts = attempts + 1, next_attempt_at = v.column3, finished_at = v.column4,
                 lease_token = NULL, lease_expires_at = NULL
             FROM (",
            ") AS v
             WHERE webhook_deliveries.id = v.column1
               AND webhook_deliveries.lease_token = v.column5
               AND webhook_deliveries.state = 'pending'
             RETURNING webhook_deliveries.id",
        );
        let returned = super::write_rows(&mut tx, statement, batch, |row, entry| {
            let (delivery, attempt, next) = *entry;
            let now = attempt.attempted_at.millis();
            let (state, next_at, finished) = match next {
                AfterAttempt::Delivered => ("delivered", now, Some(now)),
                AfterAttempt::RetryAt(at) => ("pending", at.millis(), None),
                AfterAttempt::GiveUp | AfterAttempt::DisableEndpoint(_) => {
                    ("failed", now, Some(now))
                }
            };
            row.push_bind(delivery.id.as_str())
                .push_bind(state)
                .push_bind(next_at)
                .push_bind(finished)
                .push_bind(&delivery.lease_token);
        })
        .await?;
        let fenced = returned
            .iter()
            .map(|row| row.try_get::<String, _>(0))
            .collect::<Result<std::collections::HashSet<String>, _>>()?;
        let mut recorded = Vec::with_capacity(batch.len());
        let mut endpoints: Vec<(&str, EndpointEffect)> = Vec::new();
        for &(delivery, attempt, next) in batch {
            let ok = fenced.contains(delivery.id.as_str());
            recorded.push(ok);
            if ok {
                let now = attempt.attempted_at.millis();
                let endpoint = delivery.endpoint_id.as_str();
                match endpoints.iter_mut().find(|(id, _)| *id == endpoint) {
                    Some((_, effect)) => effect.after(next, now),
                    None => {
                        let mut effect = EndpointEffect::default();
                        effect.after(next, now);
                        endpoints.push((endpoint, effect));
                    }
                }
            }
        }
        let written: Vec<_> = batch
            .iter()
            .zip(&recorded)
            .filter_map(|(entry, &ok)| ok.then_some(entry))
            .collect();
        let statement = RowsStatement::insert(
            "INSERT INTO webhook_attempts (id, delivery_id, endpoint_id, event_id,
                attempted_at, status_code, latency_ms, response_body, error, succeeded)",
        );
        super::insert_rows(
            &mut tx,
            statement,
            &written,
            |row, (delivery, attempt, _)| {
                row.push_bind(attempt.id.as_str())
                    .push_bind(delivery.id.as_str())
                    .push_bind(delivery.endpoint_id.as_str())
                    .push_bind(delivery.event.id.as_str())
                    .push_bind(attempt.attempted_at.millis())
                    .push_bind(attempt.status_code.map(i64::from))
                    .push_bind(attempt.latency_ms)
                    .push_bind(attempt.response_body.as_deref())
                    .push_bind(attempt.error.as_deref())
                    .push_bind(flag(attempt.succeeded));
            },
        )
        .await?;
        for (endpoint, effect) in endpoints {
            effect.apply(&mut tx, endpoint).await?;
        }
        tx.commit().await?;
        Ok(recorded)
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

#[cfg(test)]
mod tests {
    use super::{AfterAttempt, EndpointEffect, Failing};
    use crate::domain::Timestamp;

    fn fold(steps: &[(AfterAttempt, i64)]) -> EndpointEffect {
        let mut effect = EndpointEffect::default();
        for &(next, at) in steps {
            effect.after(next, at);
        }
        effect
    }

    #[test]
    fn a_batch_ends_its_endpoint_as_one_by_one_recording_would() {
        let retry = AfterAttempt::RetryAt(Timestamp::from_millis(99));
        assert_eq!(fold(&[]).failing, Failing::Unchanged);
        // Failures only: failing since the first, unless it already was.
        assert_eq!(
            fold(&[(retry, 1), (AfterAttempt::GiveUp, 2)]).failing,
            Failing::SinceIfUnset(1)
        );
        // The last success wins.
        assert_eq!(
            fold(&[(retry, 1), (AfterAttempt::Delivered, 2)]).failing,
            Failing::Clear
        );
        // A failure after a success: failing since that failure, whatever was stored.
        assert_eq!(
            fold(&[(AfterAttempt::Delivered, 1), (retry, 2), (retry, 3)]).failing,
            Failing::Since(2)
        );
        // Disabling sticks (the first reason), and counts as a failure.
        let disabled = fold(&[
            (AfterAttempt::DisableEndpoint("gone"), 5),
            (AfterAttempt::DisableEndpoint("failing"), 6),
            (AfterAttempt::Delivered, 7),
        ]);
        assert_eq!(disabled.disable, Some("gone"));
        assert_eq!(disabled.failing, Failing::Clear);
    }
}
