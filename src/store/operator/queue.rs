//! The job queue and webhook health at one moment, counted where they are stored: every
//! process (API or worker) shares them, so each scrape reads the database rather than a
//! process's own memory.

use sqlx::Row;

use crate::domain::Timestamp;
use crate::store::{Dialect, Store};

/// Refresh jobs in one state for one institution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobCount {
    /// `ready`, `running` or `parked`.
    pub state: String,
    /// The link's institution id.
    pub institution: String,
    /// Jobs.
    pub count: i64,
}

/// What the queue looks like now.
#[derive(Clone, Debug, Default)]
pub struct QueueReading {
    /// Jobs not done, by state and institution.
    pub jobs: Vec<JobCount>,
    /// Milliseconds the oldest due `ready` job has waited past its `run_after` (0 when none).
    pub oldest_ready_age_millis: i64,
    /// Running jobs whose lease expired without a heartbeat.
    pub expired_leases: i64,
    /// Webhook endpoints disabled and not deleted.
    pub endpoints_disabled: i64,
    /// Webhook deliveries waiting for an attempt.
    pub deliveries_pending: i64,
}

impl QueueReading {
    /// Jobs in `state`, across institutions.
    pub fn in_state(&self, state: &str) -> i64 {
        self.jobs
            .iter()
            .filter(|j| j.state == state)
            .map(|j| j.count)
            .sum()
    }
}

/// One connection pool's connections.
#[derive(Clone, Copy, Debug)]
pub struct PoolReading {
    /// `read`, `write`, or `shared` (PostgreSQL's one pool).
    pub pool: &'static str,
    /// Connections checked out.
    pub in_use: u32,
    /// Connections open and idle.
    pub idle: u32,
}

impl Store {
    /// Reads the queue (a handful of aggregate queries over indexed columns; jobs that are
    /// done are never read).
    pub async fn queue_reading(&self) -> anyhow::Result<QueueReading> {
        let now = Timestamp::now().millis();
        let rows = sqlx::query(
            "SELECT j.state AS state, l.institution_id AS institution, COUNT(*) AS n
             FROM refresh_jobs j
             JOIN refresh_intents i ON i.id = j.intent_id
             JOIN links l ON l.id = i.link_id
             WHERE j.state IN ('ready', 'running', 'parked')
             GROUP BY j.state, l.institution_id
             ORDER BY l.institution_id, j.state",
        )
        .fetch_all(&self.read)
        .await?;
        let mut jobs = Vec::with_capacity(rows.len());
        for row in rows {
            jobs.push(JobCount {
                state: row.try_get("state")?,
                institution: row.try_get("institution")?,
                count: row.try_get("n")?,
            });
        }
        let oldest: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(run_after) FROM refresh_jobs WHERE state = 'ready' AND run_after <= $1",
        )
        .bind(now)
        .fetch_one(&self.read)
        .await?;
        let expired_leases: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM refresh_jobs WHERE state = 'running' AND lease_expires_at < $1",
        )
        .bind(now)
        .fetch_one(&self.read)
        .await?;
        let endpoints_disabled: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM webhook_endpoints WHERE disabled = 1 AND deleted_at IS NULL",
        )
        .fetch_one(&self.read)
        .await?;
        let deliveries_pending: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'pending'")
                .fetch_one(&self.read)
                .await?;
        Ok(QueueReading {
            jobs,
            oldest_ready_age_millis: oldest.map_or(0, |at| (now - at).max(0)),
            expired_leases,
            endpoints_disabled,
            deliveries_pending,
        })
    }

    /// The connection pools' use now.
    pub fn pool_readings(&self) -> Vec<PoolReading> {
        let reading = |pool, p: &sqlx::AnyPool| {
            let idle = u32::try_from(p.num_idle()).unwrap_or(u32::MAX);
            PoolReading {
                pool,
                in_use: p.size().saturating_sub(idle),
                idle,
            }
        };
        match self.dialect {
            Dialect::Sqlite => vec![
                reading("read", self.read.inner()),
                reading("write", self.write.inner()),
            ],
            Dialect::Postgres => vec![reading("shared", self.read.inner())],
        }
    }
}
