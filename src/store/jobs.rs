//! Durable refresh jobs: claiming with a lease, heartbeats, parking for MFA, MFA bookkeeping.
//! Every write a worker makes names its lease token; a worker whose lease was taken over
//! changes nothing.

use sqlx::{AnyConnection, Row};

use super::group_commit::GroupedWrite;
use super::{Dialect, Store};
use crate::domain::*;

/// A job a worker now holds.
#[derive(Clone, Debug)]
pub struct ClaimedJob {
    /// The intent to work on.
    pub intent_id: RefreshIntentId,
    /// Proof of the lease; every write passes it back.
    pub lease_token: String,
    /// How many times the job has been claimed (1 on the first run).
    pub attempts: i64,
}

/// Everything a worker needs to run one refresh.
#[derive(Debug)]
pub struct RefreshWork {
    /// The intent.
    pub intent: RefreshIntent,
    /// Its link (even if deleted meanwhile).
    pub link: Link,
    /// The link's sealed credentials.
    pub sealed_credentials: Vec<u8>,
    /// Successful refreshes so far (the sandbox's `refresh_number` is this plus one).
    pub refresh_count: i64,
    /// Whether the link was deleted after the intent was created.
    pub link_deleted: bool,
    /// The sealed MFA challenge, while the intent waits for a second factor.
    pub mfa_challenge: Option<Vec<u8>>,
    /// The sealed bank session obtained with the second factor.
    pub mfa_session: Option<Vec<u8>>,
    /// When the intent must be over.
    pub deadline: Timestamp,
    /// The link's earlier refresh intents plus one (the sandbox's `refresh_number`).
    pub refresh_number: u32,
    /// The day the refresh is for.
    pub fetch_day: chrono::NaiveDate,
    /// Wrong second-factor answers so far.
    pub mfa_attempts: i64,
    /// Whether the schedule made the intent (nobody is there to answer a second factor).
    pub scheduled: bool,
}

/// The MFA state of an intent, for the answer endpoints.
#[derive(Debug)]
pub struct MfaState {
    /// The sealed challenge (present once the bank has asked).
    pub challenge: Option<Vec<u8>>,
    /// Expiry of the challenge.
    pub expires_at: Option<Timestamp>,
    /// Wrong answers so far.
    pub attempts: i64,
    /// Whether a right answer was given.
    pub completed: bool,
}

/// A claim of refresh jobs, as [`Store::claim_jobs`] asked for it.
#[derive(Debug)]
pub(super) struct JobClaim {
    owner: String,
    lease_token: String,
    limit: i64,
    lease_millis: i64,
}

impl GroupedWrite for JobClaim {
    type Output = Vec<ClaimedJob>;

    async fn write(&self, conn: &mut AnyConnection) -> anyhow::Result<Vec<ClaimedJob>> {
        let JobClaim {
            owner,
            lease_token,
            limit,
            lease_millis,
        } = self;
        let (limit, lease_millis) = (*limit, *lease_millis);
        let now = Timestamp::now().millis();
        let limit = limit.min(super::MAX_CLAIM);
        // PostgreSQL: several processes claim at once; SKIP LOCKED lets each take different
        // rows without waiting. SQLite: the write lock already serializes claims.
        let lock = match Dialect::of(conn) {
            Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let rows = sqlx::query(&format!(
            "UPDATE refresh_jobs
             SET state = 'running', lease_token = $1, lease_owner = $2, lease_expires_at = $3,
                 attempts = attempts + 1, updated_at = $4
             WHERE intent_id IN (
                 SELECT intent_id FROM refresh_jobs
                 WHERE (state IN ('ready', 'parked') AND run_after <= $4)
                    OR (state = 'running' AND lease_expires_at <= $4)
                 ORDER BY run_after LIMIT $5 {lock})
             RETURNING intent_id, attempts"
        ))
        .bind(lease_token)
        .bind(owner)
        .bind(now + lease_millis)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
        let mut jobs = Vec::with_capacity(rows.len());
        for row in rows {
            jobs.push(ClaimedJob {
                intent_id: RefreshIntentId::from_trusted(row.try_get("intent_id")?),
                lease_token: lease_token.to_owned(),
                attempts: row.try_get("attempts")?,
            });
        }
        if !jobs.is_empty() {
            let sql = format!(
                "UPDATE refresh_intents SET started_at = COALESCE(started_at, $1)
                 WHERE id IN ({})",
                super::id_list(jobs.len(), 2)
            );
            let mut started = sqlx::query(&sql).bind(now);
            for job in &jobs {
                started = started.bind(job.intent_id.as_str());
            }
            started.execute(&mut *conn).await?;
        }
        Ok(jobs)
    }
}

impl Store {
    /// Claims up to `limit` jobs: ready ones whose time has come, parked ones whose MFA
    /// challenge expired, and running ones whose lease expired (their worker died). On SQLite
    /// the claim joins the group writer's next transaction (see `group_commit`).
    #[tracing::instrument(skip(self, lease_token))]
    pub async fn claim_jobs(
        &self,
        owner: &str,
        lease_token: &str,
        limit: i64,
        lease_millis: i64,
    ) -> anyhow::Result<Vec<ClaimedJob>> {
        let claim = JobClaim {
            owner: owner.to_owned(),
            lease_token: lease_token.to_owned(),
            limit,
            lease_millis,
        };
        self.write_grouped(claim).await
    }

    /// Extends a lease; false when the lease is no longer ours. On SQLite heartbeats that
    /// arrive together share one commit (see `group_commit`).
    pub async fn heartbeat(&self, job: &ClaimedJob, lease_millis: i64) -> anyhow::Result<bool> {
        let now = Timestamp::now().millis();
        if let Some(writer) = &self.group_writer {
            let beat = Heartbeat {
                intent_id: job.intent_id.clone(),
                lease_token: job.lease_token.clone(),
                expires_at: now + lease_millis,
            };
            return writer.ask(beat).await;
        }
        extend_lease(
            &self.write,
            &job.intent_id,
            &job.lease_token,
            now + lease_millis,
        )
        .await
    }

    /// Gives a job back to the queue to run again at `run_after` (fenced).
    pub async fn release_job(
        &self,
        job: &ClaimedJob,
        run_after: Timestamp,
    ) -> anyhow::Result<bool> {
        self.give_back(job, run_after, false).await
    }

    /// Gives a running job back as ready at `run_after`, fenced by its lease; with
    /// `refund_attempt` its claim does not count as an attempt. False when the lease was lost.
    pub(super) async fn give_back(
        &self,
        job: &ClaimedJob,
        run_after: Timestamp,
        refund_attempt: bool,
    ) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "UPDATE refresh_jobs SET state = 'ready', run_after = $1, attempts = attempts - $5,
                 lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL, updated_at = $2
             WHERE intent_id = $3 AND lease_token = $4 AND state = 'running'",
        )
        .bind(run_after.millis())
        .bind(Timestamp::now().millis())
        .bind(job.intent_id.as_str())
        .bind(&job.lease_token)
        .bind(i64::from(refund_attempt))
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Loads what a worker needs for a claimed job.
    pub async fn refresh_work(&self, intent_id: &RefreshIntentId) -> anyhow::Result<RefreshWork> {
        let intent = self
            .refresh_intent_by_id(intent_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("job without intent {intent_id}"))?;
        let row = sqlx::query(
            "SELECT l.credentials, l.refresh_count, l.deleted_at, i.mfa_challenge, i.mfa_session,
                    i.deadline_at, i.refresh_number, i.fetch_day, i.mfa_attempts,
                    CASE WHEN EXISTS (SELECT 1 FROM scheduled_refreshes s
                            WHERE s.link_id = i.link_id AND s.intent_id = i.id)
                         THEN 1 ELSE 0 END AS scheduled
             FROM refresh_intents i
             JOIN links l ON l.id = i.link_id
             JOIN refresh_jobs j ON j.intent_id = i.id
             WHERE i.id = $1",
        )
        .bind(intent_id.as_str())
        .fetch_one(&self.read)
        .await?;
        let link = self
            .link_including_deleted(&intent.link_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("intent without link"))?;
        Ok(RefreshWork {
            link,
            sealed_credentials: row.try_get("credentials")?,
            refresh_count: row.try_get("refresh_count")?,
            link_deleted: row.try_get::<Option<i64>, _>("deleted_at")?.is_some(),
            mfa_challenge: row.try_get("mfa_challenge")?,
            mfa_session: row.try_get("mfa_session")?,
            deadline: Timestamp::from_millis(row.try_get("deadline_at")?),
            refresh_number: u32::try_from(row.try_get::<i64, _>("refresh_number")?)?,
            fetch_day: chrono::DateTime::from_timestamp_millis(row.try_get("fetch_day")?)
                .ok_or_else(|| anyhow::anyhow!("bad fetch_day"))?
                .date_naive(),
            mfa_attempts: row.try_get("mfa_attempts")?,
            scheduled: row.try_get::<i64, _>("scheduled")? == 1,
            intent,
        })
    }

    /// Parks a job until the second factor arrives or `expires_at` passes (fenced).
    pub async fn park_for_mfa(
        &self,
        job: &ClaimedJob,
        method: MfaMethod,
        hint: Option<&str>,
        sealed_challenge: &[u8],
        expires_at: Timestamp,
    ) -> anyhow::Result<bool> {
        let mut tx = self.begin().await?;
        let fenced = sqlx::query(
            "UPDATE refresh_jobs SET state = 'parked', run_after = $1, lease_token = NULL,
                 lease_owner = NULL, lease_expires_at = NULL, updated_at = $2
             WHERE intent_id = $3 AND lease_token = $4 AND state = 'running'",
        )
        .bind(expires_at.millis())
        .bind(Timestamp::now().millis())
        .bind(job.intent_id.as_str())
        .bind(&job.lease_token)
        .execute(&mut *tx)
        .await?;
        if fenced.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE refresh_intents SET mfa_kind = $1, mfa_hint = $2, mfa_challenge = $3,
                 mfa_expires_at = COALESCE(mfa_expires_at, $4), mfa_completed = 0
             WHERE id = $5",
        )
        .bind(method.as_str())
        .bind(hint)
        .bind(sealed_challenge.to_vec())
        .bind(expires_at.millis())
        .bind(job.intent_id.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The MFA state of an intent.
    pub async fn mfa_state(&self, intent_id: &RefreshIntentId) -> anyhow::Result<Option<MfaState>> {
        let row = sqlx::query(
            "SELECT i.mfa_challenge, i.mfa_expires_at, i.mfa_attempts, i.mfa_completed
             FROM refresh_intents i JOIN refresh_jobs j ON j.intent_id = i.id WHERE i.id = $1",
        )
        .bind(intent_id.as_str())
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(MfaState {
            challenge: row.try_get("mfa_challenge")?,
            expires_at: super::rows::get_time(&row, "mfa_expires_at")?,
            attempts: row.try_get("mfa_attempts")?,
            completed: row.try_get::<i64, _>("mfa_completed")? != 0,
        }))
    }

    /// Counts a wrong answer; returns the new count.
    pub async fn record_wrong_mfa(&self, intent_id: &RefreshIntentId) -> anyhow::Result<i64> {
        let attempts: i64 = sqlx::query_scalar(
            "UPDATE refresh_intents SET mfa_attempts = mfa_attempts + 1 WHERE id = $1
             RETURNING mfa_attempts",
        )
        .bind(intent_id.as_str())
        .fetch_one(&self.write)
        .await?;
        Ok(attempts)
    }

    /// Wakes a parked job now, so a worker ends it (attempts exhausted).
    pub async fn wake_parked_job(&self, intent_id: &RefreshIntentId) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE refresh_jobs SET run_after = $1 WHERE intent_id = $2 AND state = 'parked'",
        )
        .bind(Timestamp::now().millis())
        .bind(intent_id.as_str())
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Stores the session a right answer opened and wakes the job; false when the job is no
    /// longer parked (it expired or ended meanwhile).
    pub async fn complete_mfa(
        &self,
        intent_id: &RefreshIntentId,
        sealed_session: &[u8],
    ) -> anyhow::Result<bool> {
        let now = Timestamp::now().millis();
        let mut tx = self.begin().await?;
        let woke = sqlx::query(
            "UPDATE refresh_jobs SET state = 'ready', run_after = $1, updated_at = $1
             WHERE intent_id = $2 AND state = 'parked' AND run_after > $1",
        )
        .bind(now)
        .bind(intent_id.as_str())
        .execute(&mut *tx)
        .await?;
        if woke.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE refresh_intents SET mfa_session = $1, mfa_challenge = NULL, mfa_completed = 1
             WHERE id = $2",
        )
        .bind(sealed_session.to_vec())
        .bind(intent_id.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}

impl Store {
    /// A job's state and how many times it was claimed (for operators and tests).
    pub async fn job_status(
        &self,
        intent_id: &RefreshIntentId,
    ) -> anyhow::Result<Option<(String, i64)>> {
        let row = sqlx::query("SELECT state, attempts FROM refresh_jobs WHERE intent_id = $1")
            .bind(intent_id.as_str())
            .fetch_optional(&self.read)
            .await?;
        row.map(|r| Ok((r.try_get("state")?, r.try_get("attempts")?)))
            .transpose()
    }
}

/// A heartbeat in the group writer's transaction (SQLite): one statement, so it undoes itself.
struct Heartbeat {
    intent_id: RefreshIntentId,
    lease_token: String,
    expires_at: i64,
}

impl GroupedWrite for Heartbeat {
    type Output = bool;
    const UNDOES_ITSELF: bool = true;

    async fn write(&self, conn: &mut AnyConnection) -> anyhow::Result<bool> {
        extend_lease(conn, &self.intent_id, &self.lease_token, self.expires_at).await
    }
}

/// Extends the lease of `intent_id` held with `lease_token` to `expires_at` (fenced by the
/// token); false when the lease is no longer ours. Both paths of [`Store::heartbeat`] run it:
/// alone, or in the group writer's transaction.
pub(super) async fn extend_lease<'c>(
    executor: impl sqlx::Executor<'c, Database = sqlx::Any>,
    intent_id: &RefreshIntentId,
    lease_token: &str,
    expires_at: i64,
) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "UPDATE refresh_jobs SET lease_expires_at = $1, updated_at = $2
         WHERE intent_id = $3 AND lease_token = $4 AND state = 'running'",
    )
    .bind(expires_at)
    .bind(Timestamp::now().millis())
    .bind(intent_id.as_str())
    .bind(lease_token)
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}
