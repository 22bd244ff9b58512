//! Scheduled refreshes: when each link is next due, and the creation of a due link's
//! `only_last` intent.
//!
//! "Once per interval" across processes rests on one compare-and-set: a scheduler moves a
//! link's `next_at` from the value it read to the next due time, in the transaction that
//! creates the intent. On PostgreSQL a second process running the same `UPDATE` waits for the
//! first to commit, then re-checks its `WHERE` against the committed row, finds `next_at`
//! moved and changes nothing; on SQLite the one writer runs them one after the other. The
//! primary key of `scheduled_refreshes` (link, due time) refuses a second intent for the same
//! due time in any case.

use sqlx::Row;

use super::{Dialect, Store};
use crate::domain::*;

/// A link whose scheduled refresh is due.
#[derive(Clone, Debug)]
pub struct DueLink {
    /// The link.
    pub link_id: LinkId,
    /// Its organization (whose interval applies).
    pub organization_id: String,
    /// The due time read; the claim moves it only from this value.
    pub next_at: i64,
}

/// A link that has no schedule yet.
#[derive(Clone, Debug)]
pub struct UnscheduledLink {
    /// The link.
    pub link_id: LinkId,
    /// Its organization.
    pub organization_id: String,
    /// When it was created (its first due time counts from there).
    pub created_at: i64,
}

/// Which organizations a scheduler serves: all but some, or only some.
#[derive(Clone, Debug)]
pub enum ScheduledOrganizations {
    /// Every organization except these (whose interval is 0).
    AllExcept(Vec<String>),
    /// Only these (the default interval is 0).
    Only(Vec<String>),
}

impl ScheduledOrganizations {
    /// The SQL condition on `l.organization_id`, with the JSON list as `param`.
    fn condition(&self, dialect: Dialect, param: &str) -> String {
        let list = dialect.text_list(param);
        match self {
            Self::AllExcept(_) => format!("l.organization_id NOT IN ({list})"),
            Self::Only(_) => format!("l.organization_id IN ({list})"),
        }
    }

    fn json(&self) -> String {
        let (Self::AllExcept(ids) | Self::Only(ids)) = self;
        serde_json::to_string(ids).unwrap_or_else(|_| "[]".into())
    }
}

/// What a link `l` must be to be scheduled: live, active, credentials not refused, and no
/// second factor at login (nobody is there to answer one).
macro_rules! schedulable {
    () => {
        "l.deleted_at IS NULL AND l.active = 1
    AND l.credential_status <> 'login_required' AND l.login_mfa IS NULL"
    };
}

/// The scheduled intent of link `$1`: `$2` id, `$3` now, `$4` deadline, `$5` fetch day,
/// `$6` and `$7` the times after which a last success of `historical` and of `only_last`
/// means the link is still cooling down (then no intent is made). The partial unique index
/// of intents in progress has the last word on a race with an on-demand create.
const SCHEDULED_INTENT: &str = concat!(
    "INSERT INTO refresh_intents (id, organization_id, mode, link_id, refresh_type, status,
        new_movements, created_at, deadline_at, refresh_number, fetch_day)
     SELECT $2, l.organization_id, l.mode, l.id, 'only_last', 'created', 0, $3, $4,
        (SELECT COALESCE(MAX(refresh_number), 0) FROM refresh_intents WHERE link_id = $1) + 1,
        $5
     FROM links l
     WHERE l.id = $1 AND ",
    schedulable!(),
    "
       AND NOT EXISTS (SELECT 1 FROM refresh_intents WHERE link_id = $1 AND status = 'created')
       AND NOT EXISTS (SELECT 1 FROM refresh_intents s
           WHERE s.link_id = $1 AND s.status = 'succeeded' AND s.forced_result IS NULL
             AND s.refresh_number > 0
             AND s.finished_at > CASE s.refresh_type WHEN 'historical' THEN $6 ELSE $7 END)
     ON CONFLICT (link_id) WHERE status = 'created' DO NOTHING
     RETURNING mode"
);

impl Store {
    /// Up to `limit` links of the served organizations that have no schedule yet.
    pub async fn unscheduled_links(
        &self,
        organizations: &ScheduledOrganizations,
        limit: i64,
    ) -> anyhow::Result<Vec<UnscheduledLink>> {
        let sql = format!(
            "SELECT l.id, l.organization_id, l.created_at FROM links l
             WHERE {} AND {}
               AND NOT EXISTS (SELECT 1 FROM link_schedules s WHERE s.link_id = l.id)
             LIMIT $2",
            schedulable!(),
            organizations.condition(self.dialect, "$1")
        );
        let rows = sqlx::query(&sql)
            .bind(organizations.json())
            .bind(limit)
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(UnscheduledLink {
                    link_id: LinkId::from_trusted(row.try_get("id")?),
                    organization_id: row.try_get("organization_id")?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Gives `link` its first due time, unless another process just did.
    pub async fn schedule_link(&self, link: &LinkId, next_at: Timestamp) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO link_schedules (link_id, next_at) VALUES ($1, $2)
             ON CONFLICT (link_id) DO NOTHING",
        )
        .bind(link.as_str())
        .bind(next_at.millis())
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Up to `limit` links of the served organizations due at `now`, oldest due first.
    /// Links that can no longer be scheduled (deleted, deactivated, refused credentials)
    /// are returned too: claiming them moves their due time on without an intent.
    pub async fn due_links(
        &self,
        organizations: &ScheduledOrganizations,
        now: Timestamp,
        limit: i64,
    ) -> anyhow::Result<Vec<DueLink>> {
        let sql = format!(
            "SELECT s.link_id, s.next_at, l.organization_id
             FROM link_schedules s JOIN links l ON l.id = s.link_id
             WHERE s.next_at <= $2 AND {}
             ORDER BY s.next_at LIMIT $3",
            organizations.condition(self.dialect, "$1")
        );
        let rows = sqlx::query(&sql)
            .bind(organizations.json())
            .bind(now.millis())
            .bind(limit)
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(DueLink {
                    link_id: LinkId::from_trusted(row.try_get("link_id")?),
                    organization_id: row.try_get("organization_id")?,
                    next_at: row.try_get("next_at")?,
                })
            })
            .collect()
    }

    /// Claims `due` for this process by moving its due time to `next_at`, and creates its
    /// scheduled `only_last` intent `id` with its job in the same transaction. `None` when
    /// another process claimed it first, or when the link gets no intent this time (an
    /// intent in progress, a cooldown, or a link that can no longer be scheduled); the due
    /// time moves on either way. Returns the intent's mode when one was made.
    pub async fn claim_scheduled_refresh(
        &self,
        due: &DueLink,
        next_at: Timestamp,
        id: &RefreshIntentId,
        now: Timestamp,
        deadline: Timestamp,
        cooldowns: Cooldowns,
    ) -> anyhow::Result<Option<Mode>> {
        let mut tx = self.begin().await?;
        let moved = sqlx::query(
            "UPDATE link_schedules SET next_at = $1 WHERE link_id = $2 AND next_at = $3",
        )
        .bind(next_at.millis())
        .bind(due.link_id.as_str())
        .bind(due.next_at)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() != 1 {
            return Ok(None);
        }
        let fetch_day = Timestamp::start_of(
            chrono::DateTime::from_timestamp_millis(now.millis())
                .unwrap_or_default()
                .date_naive(),
        );
        let created = sqlx::query(SCHEDULED_INTENT)
            .bind(due.link_id.as_str())
            .bind(id.as_str())
            .bind(now.millis())
            .bind(deadline.millis())
            .bind(fetch_day.millis())
            .bind(
                cooldowns
                    .blocks_after(RefreshType::Historical, now)
                    .millis(),
            )
            .bind(cooldowns.blocks_after(RefreshType::OnlyLast, now).millis())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = created else {
            tx.commit().await?;
            return Ok(None);
        };
        let mode: String = row.try_get("mode")?;
        sqlx::query(
            "INSERT INTO refresh_jobs (intent_id, state, run_after, attempts, updated_at)
             VALUES ($1, 'ready', $2, 0, $2)",
        )
        .bind(id.as_str())
        .bind(now.millis())
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE links SET refresh_status = 'refreshing' WHERE id = $1")
            .bind(due.link_id.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE accounts SET refresh_status = 'refreshing'
             WHERE link_id = $1 AND removed_from_link = 0",
        )
        .bind(due.link_id.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO scheduled_refreshes (link_id, due_at, intent_id) VALUES ($1, $2, $3)",
        )
        .bind(due.link_id.as_str())
        .bind(due.next_at)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(Mode::parse(&mode).unwrap_or(Mode::Test)))
    }

    /// The scheduled refreshes of `link`: each due time and its intent, oldest first.
    pub async fn scheduled_refreshes(
        &self,
        link: &LinkId,
    ) -> anyhow::Result<Vec<(Timestamp, RefreshIntentId)>> {
        let rows = sqlx::query(
            "SELECT due_at, intent_id FROM scheduled_refreshes WHERE link_id = $1
             ORDER BY due_at",
        )
        .bind(link.as_str())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    Timestamp::from_millis(row.try_get("due_at")?),
                    RefreshIntentId::from_trusted(row.try_get("intent_id")?),
                ))
            })
            .collect()
    }
}
