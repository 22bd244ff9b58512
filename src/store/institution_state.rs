//! What every process shares about an institution: its session slots (the cap on concurrent
//! logins and fetches) and its circuit breaker.
//!
//! **Slots.** An institution has `max_concurrent_sessions` rows in `institution_slots`; a
//! refresh, or a login of link creation, takes one with a single `UPDATE` of a free row before
//! it calls the bank. On
//! PostgreSQL the row is picked `FOR UPDATE SKIP LOCKED`: two workers never lock the same
//! row, and a row taken by a transaction that committed after the statement began is re-checked
//! against its committed version before it is locked. So however many processes take slots at
//! once, each row has one holder, and there are only `max` rows to take. A slot is free when
//! nobody holds it, or when the lease it was taken under has run out (`expires_at`, on the row
//! itself) and its holder's job no longer holds that lease (the job ended, parked for a second
//! factor, or its worker died), so a crash never leaks one. A login has no job: its slot is
//! free once its `expires_at` has passed, and the login never runs longer than that. The row's own `expires_at` is what
//! the re-check of a row taken meanwhile reads: the look at the holder's job goes through the
//! statement's snapshot, which may predate that job's claim. On SQLite the one writer serializes the takes, and a take or a release
//! shares the group writer's commit with the writes queued beside it (see `group_commit`), so
//! the gate adds no fsync of its own to a refresh.
//!
//! **Breaker.** `institution_health` counts consecutive `unavailable` answers; each change is
//! one statement, so concurrent outcomes from several processes add up rather than overwrite.

use sqlx::{AnyConnection, Row};

use super::group_commit::GroupedWrite;
use super::{Dialect, Store};
use crate::crypto::random_token;
use crate::domain::*;
use crate::store::ClaimedJob;

/// Who holds a session slot: a refresh's job under its lease, or one login of link creation.
/// `lease_token` fences the release, so a slot taken over after its expiry is not freed by its
/// late first holder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotHolder {
    /// The job's intent id, or `login_…` for a login.
    pub id: String,
    /// The job's lease token, or a fresh one for a login.
    pub lease_token: String,
}

impl SlotHolder {
    /// A login of link creation (API, CLI or widget); it holds no job.
    pub fn login() -> Self {
        SlotHolder {
            id: format!("login_{}", random_token(16)),
            lease_token: random_token(24),
        }
    }
}

impl From<&ClaimedJob> for SlotHolder {
    fn from(job: &ClaimedJob) -> Self {
        SlotHolder {
            id: job.intent_id.as_str().to_owned(),
            lease_token: job.lease_token.clone(),
        }
    }
}

/// An institution's breaker, as `GET /v1/institutions` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstitutionHealth {
    /// The institution.
    pub institution_id: String,
    /// `up`, `degraded` (failing, still tried) or `down` (open: refreshes wait).
    pub status: String,
    /// When it entered this status.
    pub since: Timestamp,
    /// While down: when the next probe may go.
    pub probe_at: Option<Timestamp>,
    /// Consecutive `unavailable` answers.
    pub failures: i64,
}

/// What the breaker lets a refresh do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerGate {
    /// Closed (or degraded): call the bank.
    Pass,
    /// Half-open, and this refresh is the probe.
    Probe,
    /// Open, or another refresh is probing: wait until then.
    WaitUntil(Timestamp),
}

/// The settings of a breaker.
#[derive(Clone, Copy, Debug)]
pub struct BreakerSettings {
    /// Consecutive failures that open it.
    pub failures: i64,
    /// First open period, in ms.
    pub backoff_ms: i64,
    /// Longest open period, in ms.
    pub max_backoff_ms: i64,
    /// How long a probe may take before another is let through, in ms.
    pub probe_ms: i64,
}

impl Store {
    /// Takes a free session slot of `institution` (of the first `max`) for `holder`, for at
    /// least `lease_millis`; its number, or `None` when all are taken. On SQLite it joins the
    /// group writer's next commit.
    pub async fn take_session_slot(
        &self,
        institution: &str,
        max: u32,
        holder: &SlotHolder,
        lease_millis: i64,
    ) -> anyhow::Result<Option<i64>> {
        self.write_grouped(TakeSlot {
            institution: institution.to_owned(),
            max,
            holder: holder.clone(),
            lease_millis,
        })
        .await
    }

    /// Gives back the slot `holder` took. On SQLite it joins the group writer's next commit.
    pub async fn release_session_slot(
        &self,
        institution: &str,
        slot: i64,
        holder: &SlotHolder,
    ) -> anyhow::Result<()> {
        self.write_grouped(ReleaseSlot {
            institution: institution.to_owned(),
            slot,
            lease_token: holder.lease_token.clone(),
        })
        .await
    }

    /// Gives a claimed job back to wait until `run_after`, without counting the claim as an
    /// attempt (it never reached the bank). False when the lease was lost.
    pub async fn postpone_job(
        &self,
        job: &ClaimedJob,
        run_after: Timestamp,
    ) -> anyhow::Result<bool> {
        self.give_back(job, run_after, true).await
    }

    /// What `institution`'s breaker lets a refresh do at `now`. Becoming the probe is one
    /// conditional `UPDATE`, so one refresh at a time probes, across processes.
    pub async fn breaker_gate(
        &self,
        institution: &str,
        now: Timestamp,
        settings: BreakerSettings,
    ) -> anyhow::Result<BreakerGate> {
        let row = sqlx::query(
            "SELECT status, probe_at, probe_until FROM institution_health
             WHERE institution_id = $1",
        )
        .bind(institution)
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else {
            return Ok(BreakerGate::Pass);
        };
        if row.try_get::<String, _>("status")? != "down" {
            return Ok(BreakerGate::Pass);
        }
        let probe_at: i64 = row.try_get::<Option<i64>, _>("probe_at")?.unwrap_or(0);
        if probe_at > now.millis() {
            return Ok(BreakerGate::WaitUntil(Timestamp::from_millis(probe_at)));
        }
        let probing = sqlx::query(
            "UPDATE institution_health SET probe_until = $2
             WHERE institution_id = $1 AND status = 'down' AND probe_at <= $3
               AND (probe_until IS NULL OR probe_until <= $3)",
        )
        .bind(institution)
        .bind(now.millis() + settings.probe_ms)
        .bind(now.millis())
        .execute(&self.write)
        .await?;
        Ok(if probing.rows_affected() == 1 {
            BreakerGate::Probe
        } else {
            BreakerGate::WaitUntil(now.plus_millis(settings.probe_ms.min(1000)))
        })
    }

    /// Counts an `unavailable` answer of `institution` at `now`: the breaker opens at the
    /// threshold; a failed probe opens it again for twice as long (up to the maximum).
    pub async fn breaker_failure(
        &self,
        institution: &str,
        now: Timestamp,
        settings: BreakerSettings,
    ) -> anyhow::Result<()> {
        let opens = settings.failures <= 1;
        sqlx::query(
            "INSERT INTO institution_health
                 (institution_id, status, since, failures, backoff_ms, probe_at)
             VALUES ($1, $2, $3, 1, $4, $5)
             ON CONFLICT (institution_id) DO UPDATE SET
                 failures = institution_health.failures + 1,
                 status = CASE WHEN institution_health.failures + 1 >= $6
                     THEN 'down' ELSE 'degraded' END,
                 since = CASE
                     WHEN institution_health.status = 'down' THEN institution_health.since
                     WHEN institution_health.failures + 1 >= $6 THEN $3
                     WHEN institution_health.status = 'up' THEN $3
                     ELSE institution_health.since END,
                 backoff_ms = CASE
                     WHEN institution_health.status = 'down'
                          AND institution_health.probe_until IS NOT NULL
                         THEN CASE WHEN institution_health.backoff_ms * 2 > $7 THEN $7
                                   ELSE institution_health.backoff_ms * 2 END
                     WHEN institution_health.status <> 'down'
                          AND institution_health.failures + 1 >= $6 THEN $8
                     ELSE institution_health.backoff_ms END,
                 probe_at = CASE
                     WHEN institution_health.status = 'down'
                          AND institution_health.probe_until IS NOT NULL
                         THEN $3 + CASE WHEN institution_health.backoff_ms * 2 > $7 THEN $7
                                        ELSE institution_health.backoff_ms * 2 END
                     WHEN institution_health.status <> 'down'
                          AND institution_health.failures + 1 >= $6 THEN $3 + $8
                     ELSE institution_health.probe_at END,
                 probe_until = NULL",
        )
        .bind(institution)
        .bind(if opens { "down" } else { "degraded" })
        .bind(now.millis())
        .bind(if opens { settings.backoff_ms } else { 0 })
        .bind(opens.then_some(now.millis() + settings.backoff_ms))
        .bind(settings.failures)
        .bind(settings.max_backoff_ms)
        .bind(settings.backoff_ms)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Counts an answer of `institution` that shows it up: the breaker closes.
    pub async fn breaker_success(&self, institution: &str, now: Timestamp) -> anyhow::Result<()> {
        // Almost always the breaker is closed already: a read on the read pool says so
        // without queueing for the writer.
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM institution_health WHERE institution_id = $1")
                .bind(institution)
                .fetch_optional(&self.read)
                .await?;
        if status.is_none_or(|status| status == "up") {
            return Ok(());
        }
        sqlx::query(
            "UPDATE institution_health SET status = 'up', since = $2, failures = 0,
                 backoff_ms = 0, probe_at = NULL, probe_until = NULL
             WHERE institution_id = $1 AND status <> 'up'",
        )
        .bind(institution)
        .bind(now.millis())
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Every institution's breaker that has ever seen a failure.
    pub async fn institution_health(&self) -> anyhow::Result<Vec<InstitutionHealth>> {
        let rows = sqlx::query(
            "SELECT institution_id, status, since, probe_at, failures FROM institution_health",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(InstitutionHealth {
                    institution_id: row.try_get("institution_id")?,
                    status: row.try_get("status")?,
                    since: Timestamp::from_millis(row.try_get("since")?),
                    probe_at: row
                        .try_get::<Option<i64>, _>("probe_at")?
                        .map(Timestamp::from_millis),
                    failures: row.try_get("failures")?,
                })
            })
            .collect()
    }
}

/// Taking a slot: its rows made if they are missing, then one free row taken (see the module
/// docs for why one `UPDATE` is enough).
struct TakeSlot {
    institution: String,
    max: u32,
    holder: SlotHolder,
    lease_millis: i64,
}

impl GroupedWrite for TakeSlot {
    type Output = Option<i64>;

    async fn write(&self, conn: &mut AnyConnection) -> anyhow::Result<Option<i64>> {
        let slots: Vec<String> = (0..self.max).map(|n| format!("($1, {n})")).collect();
        sqlx::query(&format!(
            "INSERT INTO institution_slots (institution_id, slot) VALUES {}
             ON CONFLICT (institution_id, slot) DO NOTHING",
            slots.join(", ")
        ))
        .bind(&self.institution)
        .execute(&mut *conn)
        .await?;
        let lock = match Dialect::of(conn) {
            Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let now = Timestamp::now().millis();
        let taken = sqlx::query(&format!(
            "UPDATE institution_slots SET intent_id = $2, lease_token = $3, expires_at = $6
             WHERE institution_id = $1 AND slot = (
                 SELECT s.slot FROM institution_slots s
                 WHERE s.institution_id = $1 AND s.slot < $4
                   AND (s.intent_id IS NULL OR (s.expires_at <= $5 AND NOT EXISTS (
                       SELECT 1 FROM refresh_jobs j
                       WHERE j.intent_id = s.intent_id AND j.lease_token = s.lease_token
                         AND j.state = 'running' AND j.lease_expires_at > $5)))
                 ORDER BY s.slot LIMIT 1 {lock})
             RETURNING slot"
        ))
        .bind(&self.institution)
        .bind(&self.holder.id)
        .bind(&self.holder.lease_token)
        .bind(i64::from(self.max))
        .bind(now)
        .bind(now + self.lease_millis)
        .fetch_optional(&mut *conn)
        .await?;
        Ok(match taken {
            Some(row) => Some(row.try_get("slot")?),
            None => None,
        })
    }
}

/// Giving a slot back: one statement, fenced by the lease token it was taken with.
struct ReleaseSlot {
    institution: String,
    slot: i64,
    lease_token: String,
}

impl GroupedWrite for ReleaseSlot {
    type Output = ();
    const UNDOES_ITSELF: bool = true;

    async fn write(&self, conn: &mut AnyConnection) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE institution_slots SET intent_id = NULL, lease_token = NULL, expires_at = NULL
             WHERE institution_id = $1 AND slot = $2 AND lease_token = $3",
        )
        .bind(&self.institution)
        .bind(self.slot)
        .bind(&self.lease_token)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}
