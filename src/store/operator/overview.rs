//! Organizations, institution health and the series the dashboard's charts draw. The charts
//! read the database rather than this process's metrics: the attempts and refreshes of every
//! process are there, and a process's counters start again at zero when it restarts.

use sqlx::Row;

use crate::store::Store;

/// An organization and what it has.
#[derive(Clone, Debug)]
pub struct OpsOrganization {
    /// `org_…`
    pub id: String,
    /// Its unique name.
    pub name: String,
    /// Epoch milliseconds.
    pub created_at: i64,
    /// Links not deleted, in live mode.
    pub live_links: i64,
    /// Links not deleted, in test mode.
    pub test_links: i64,
    /// Webhook endpoints not deleted.
    pub endpoints: i64,
}

/// How one institution's refreshes ended in a window.
#[derive(Clone, Debug)]
pub struct InstitutionHealth {
    /// Institution id.
    pub institution: String,
    /// Refreshes that succeeded.
    pub succeeded: i64,
    /// Failed.
    pub failed: i64,
    /// Rejected (credentials).
    pub rejected: i64,
    /// Still in progress.
    pub in_progress: i64,
}

/// Attempts in one minute.
#[derive(Clone, Copy, Debug)]
pub struct MinuteCount {
    /// Epoch minute (milliseconds / 60000).
    pub minute: i64,
    /// Attempts that got a 2xx.
    pub succeeded: i64,
    /// The others.
    pub failed: i64,
}

impl Store {
    /// Every organization with its counts, by name.
    pub async fn ops_organizations(&self) -> anyhow::Result<Vec<OpsOrganization>> {
        let rows = sqlx::query(
            "SELECT o.id, o.name, o.created_at,
                    (SELECT COUNT(*) FROM links l WHERE l.organization_id = o.id
                     AND l.mode = 'live' AND l.deleted_at IS NULL) AS live_links,
                    (SELECT COUNT(*) FROM links l WHERE l.organization_id = o.id
                     AND l.mode = 'test' AND l.deleted_at IS NULL) AS test_links,
                    (SELECT COUNT(*) FROM webhook_endpoints w WHERE w.organization_id = o.id
                     AND w.deleted_at IS NULL) AS endpoints
             FROM organizations o ORDER BY o.name",
        )
        .fetch_all(&self.read)
        .await?;
        let mut organizations = Vec::with_capacity(rows.len());
        for row in &rows {
            organizations.push(OpsOrganization {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                created_at: row.try_get("created_at")?,
                live_links: row.try_get("live_links")?,
                test_links: row.try_get("test_links")?,
                endpoints: row.try_get("endpoints")?,
            });
        }
        Ok(organizations)
    }

    /// Refresh intents created since `since` (epoch milliseconds), by institution and status.
    pub async fn ops_institution_health(
        &self,
        since: i64,
    ) -> anyhow::Result<Vec<InstitutionHealth>> {
        let rows = sqlx::query(
            "SELECT l.institution_id AS institution,
                    COUNT(CASE WHEN i.status = 'succeeded' THEN 1 END) AS succeeded,
                    COUNT(CASE WHEN i.status = 'failed' THEN 1 END) AS failed,
                    COUNT(CASE WHEN i.status = 'rejected' THEN 1 END) AS rejected,
                    COUNT(CASE WHEN i.status = 'created' THEN 1 END) AS in_progress
             FROM refresh_intents i JOIN links l ON l.id = i.link_id
             WHERE i.created_at >= $1
             GROUP BY l.institution_id ORDER BY l.institution_id",
        )
        .bind(since)
        .fetch_all(&self.read)
        .await?;
        let mut health = Vec::with_capacity(rows.len());
        for row in &rows {
            health.push(InstitutionHealth {
                institution: row.try_get("institution")?,
                succeeded: row.try_get("succeeded")?,
                failed: row.try_get("failed")?,
                rejected: row.try_get("rejected")?,
                in_progress: row.try_get("in_progress")?,
            });
        }
        Ok(health)
    }

    /// Webhook attempts per minute since `since` (epoch milliseconds), oldest first; minutes
    /// without attempts are absent.
    pub async fn ops_attempts_per_minute(&self, since: i64) -> anyhow::Result<Vec<MinuteCount>> {
        let rows = sqlx::query(
            "SELECT attempted_at / 60000 AS minute,
                    COUNT(CASE WHEN succeeded = 1 THEN 1 END) AS ok,
                    COUNT(CASE WHEN succeeded = 0 THEN 1 END) AS failed
             FROM webhook_attempts WHERE attempted_at >= $1
             GROUP BY attempted_at / 60000 ORDER BY minute",
        )
        .bind(since)
        .fetch_all(&self.read)
        .await?;
        let mut minutes = Vec::with_capacity(rows.len());
        for row in &rows {
            minutes.push(MinuteCount {
                minute: row.try_get("minute")?,
                succeeded: row.try_get("ok")?,
                failed: row.try_get("failed")?,
            });
        }
        Ok(minutes)
    }

    /// Milliseconds from creation to the end of the latest `limit` refreshes that ended since
    /// `since` (epoch milliseconds).
    pub async fn ops_refresh_latencies(&self, since: i64, limit: i64) -> anyhow::Result<Vec<i64>> {
        let rows = sqlx::query(
            "SELECT finished_at - created_at AS took FROM refresh_intents
             WHERE finished_at >= $1 ORDER BY finished_at DESC LIMIT $2",
        )
        .bind(since)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|row| Ok(row.try_get::<i64, _>("took")?))
            .collect()
    }
}
