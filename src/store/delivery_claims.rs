//! Claiming webhook deliveries: per endpoint, its oldest due deliveries up to its free slots,
//! leased to the claiming dispatcher in one write transaction.

use sqlx::{AnyConnection, Row};

use super::deliveries::DueDelivery;
use super::group_commit::GroupedWrite;
use super::rows::get_time;
use super::Store;
use crate::domain::*;

/// Leases the `count` candidates (`$4…`) still free to token `$1` until `$2` (`$3`: now).
/// Both this and [`load_sql`] pick rows by primary key: see migration 0007 for the plan
/// SQLite chose while an index on `state` existed.
fn claim_sql(count: usize) -> String {
    format!(
        "UPDATE webhook_deliveries SET lease_token = $1, lease_expires_at = $2
         WHERE state = 'pending' AND (lease_expires_at IS NULL OR lease_expires_at <= $3)
           AND id IN ({})",
        super::id_list(count, 4)
    )
}

/// What a claim now holds, with its endpoint and event: the `count` candidates (`$2…`) that
/// carry the claim's (fresh) lease token `$1`.
fn load_sql(count: usize) -> String {
    format!(
        "SELECT d.id AS delivery_id, d.attempts, d.endpoint_id, e.url,
                e.mode AS endpoint_mode, e.secret, e.failing_since, v.*
         FROM webhook_deliveries d
         JOIN webhook_endpoints e ON e.id = d.endpoint_id
         JOIN events v ON v.id = d.event_id
         WHERE d.lease_token = $1 AND d.state = 'pending' AND d.id IN ({})
         ORDER BY d.next_attempt_at, d.id",
        super::id_list(count, 2)
    )
}

impl Store {
    /// Claims up to `limit` due deliveries of enabled endpoints, at most `per_endpoint` in
    /// flight per endpoint (so one slow receiver cannot take every slot). Endpoints whose
    /// oldest due delivery is oldest go first. On SQLite the claim joins the group writer's
    /// next transaction (see `group_commit`).
    ///
    /// Every step reads an index, never the backlog: per endpoint, the in-flight count ranges
    /// over leased rows only and the due deliveries are read in order up to the endpoint's
    /// free slots (an earlier version ranked the whole backlog with a window function on
    /// every claim: a 100,000-delivery backlog drained at 200 a second).
    pub async fn claim_deliveries(
        &self,
        lease_token: &str,
        limit: i64,
        per_endpoint: i64,
        lease_millis: i64,
    ) -> anyhow::Result<Vec<DueDelivery>> {
        let claim = DeliveryClaim {
            lease_token: lease_token.to_owned(),
            limit,
            per_endpoint,
            lease_millis,
        };
        self.write_grouped(claim).await
    }
}

/// A claim of webhook deliveries, as [`Store::claim_deliveries`] asked for it.
#[derive(Debug)]
pub(super) struct DeliveryClaim {
    lease_token: String,
    limit: i64,
    per_endpoint: i64,
    lease_millis: i64,
}

impl GroupedWrite for DeliveryClaim {
    type Output = Vec<DueDelivery>;

    async fn write(&self, conn: &mut AnyConnection) -> anyhow::Result<Vec<DueDelivery>> {
        let DeliveryClaim {
            lease_token,
            limit,
            per_endpoint,
            lease_millis,
        } = self;
        let (limit, per_endpoint, lease_millis) = (*limit, *per_endpoint, *lease_millis);
        let now = Timestamp::now().millis();
        let limit = limit.min(super::MAX_CLAIM);
        let endpoints: Vec<(String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT e.id,
                    (SELECT COUNT(*) FROM webhook_deliveries f
                     WHERE f.endpoint_id = e.id AND f.lease_expires_at > $1
                       AND f.state = 'pending') AS in_flight,
                    (SELECT MIN(d.next_attempt_at) FROM webhook_deliveries d
                     WHERE d.endpoint_id = e.id AND d.state = 'pending') AS oldest
             FROM webhook_endpoints e
             WHERE e.disabled = 0 AND e.deleted_at IS NULL",
        )
        .bind(now)
        .fetch_all(&mut *conn)
        .await?;
        let mut endpoints: Vec<(String, i64, i64)> = endpoints
            .into_iter()
            .filter_map(|(id, in_flight, oldest)| {
                oldest
                    .filter(|&at| at <= now && in_flight < per_endpoint)
                    .map(|at| (id, per_endpoint - in_flight, at))
            })
            .collect();
        endpoints.sort_by_key(|&(_, _, oldest)| oldest);
        // Compare-and-set per candidate below: one another dispatcher took meanwhile fails
        // the WHERE and is skipped.
        let mut candidates: Vec<String> = Vec::new();
        for (endpoint, free, _) in endpoints {
            let want = free.min(limit - i64::try_from(candidates.len())?);
            if want <= 0 {
                break;
            }
            let ids: Vec<String> = sqlx::query_scalar(
                "SELECT id FROM webhook_deliveries
                 WHERE endpoint_id = $1 AND state = 'pending' AND next_attempt_at <= $2
                   AND (lease_expires_at IS NULL OR lease_expires_at <= $2)
                 ORDER BY next_attempt_at, id LIMIT $3",
            )
            .bind(&endpoint)
            .bind(now)
            .bind(want)
            .fetch_all(&mut *conn)
            .await?;
            candidates.extend(ids);
        }
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let claim_sql = claim_sql(candidates.len());
        let mut claim = sqlx::query(&claim_sql)
            .bind(lease_token)
            .bind(now + lease_millis)
            .bind(now);
        for id in &candidates {
            claim = claim.bind(id);
        }
        claim.execute(&mut *conn).await?;
        let load_sql = load_sql(candidates.len());
        let mut load = sqlx::query(&load_sql).bind(lease_token);
        for id in &candidates {
            load = load.bind(id);
        }
        let rows = load.fetch_all(&mut *conn).await?;
        let mut due = Vec::with_capacity(rows.len());
        for row in rows {
            let mode: String = row.try_get("endpoint_mode")?;
            due.push(DueDelivery {
                id: DeliveryId::from_trusted(row.try_get("delivery_id")?),
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
        Ok(due)
    }
}

#[cfg(test)]
mod tests {
    use super::{claim_sql, load_sql};

    /// SQLite's plan for `sql` with `ids` ids bound after `fixed` other parameters, one line
    /// per step.
    async fn plan(store: &crate::store::Store, sql: &str, fixed: usize, ids: usize) -> String {
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let mut query = sqlx::query_as::<_, (i64, i64, i64, String)>(&explain);
        for i in 0..fixed {
            query = query.bind(i64::try_from(i).unwrap());
        }
        for i in 0..ids {
            query = query.bind(format!("whd_{i}"));
        }
        let steps = query.fetch_all(&store.write).await.unwrap();
        steps
            .into_iter()
            .map(|(.., detail)| detail)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// A claim reads the rows it names by primary key, whatever the number of ids: a plan
    /// through an index on `state` would read the whole pending backlog on every claim.
    #[tokio::test]
    async fn claims_look_deliveries_up_by_id_not_by_state() {
        let (_dir, store) = crate::store::sqlite::temp_store().await;
        for ids in [1, 64, 1000] {
            for (sql, fixed, table) in [
                (claim_sql(ids), 3, "webhook_deliveries"),
                (load_sql(ids), 1, "d"),
            ] {
                let plan = plan(&store, &sql, fixed, ids).await;
                let step = plan
                    .lines()
                    .find(|line| line.contains(&format!(" {table} ")))
                    .unwrap_or_else(|| panic!("no step reads {table}: {plan}"));
                assert!(
                    step.contains("sqlite_autoindex_webhook_deliveries_1 (id=?)"),
                    "{ids} ids: {step}"
                );
            }
        }
    }
}
