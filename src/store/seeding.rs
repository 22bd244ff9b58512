//! Seeding: for benchmarks and load tests. It writes rows directly, bypassing the API (and its
//! rules, idempotency and events); not for production use. The server never calls it.
//!
//! Reached through [`Store::seeding`], so a reader of `Store` sees only what the server does.
//!
//! Benchmarks need data at a scale the API cannot create quickly (100,000 links, 5 million
//! movements, 100,000 pending deliveries), so these methods write it straight with SQL: multi-row
//! `INSERT`s, or `INSERT … SELECT` over a recursive sequence, in big transactions. The rows are
//! the same as the API would write (hashed link tokens, sealed credentials, accounts copied from
//! a real link of the sandbox bank), so the API and the worker accept them unchanged. Beside the
//! writes are the counts a load test checks its results with.
//!
//! On SQLite the seed phase ([`Seeding::begin`] to [`Seeding::finish`]) lowers `synchronous` to
//! `OFF` (a crash while seeding only loses the seed) and restores `FULL` afterwards, then
//! checkpoints the WAL so the measured phase reads a plain database file. On PostgreSQL each
//! seed transaction sets `synchronous_commit = off`, and the phase ends with `ANALYZE`.

use sqlx::{Any, Row, Transaction};

use super::{placeholders, Dialect, Store};
use crate::domain::*;

/// One link to seed: its id, the keyed hash of its token, and its sealed credentials.
#[derive(Debug)]
pub struct SeedLink {
    /// The new link's id.
    pub id: LinkId,
    /// `MasterKey::hash_token` of the link token the load test will present.
    pub token_hash: String,
    /// Credentials sealed under the master key with the link id as associated data.
    pub sealed_credentials: Vec<u8>,
}

/// Links per multi-row `INSERT` (3 bound values each, and their accounts 3 each). Kept small:
/// SQLite looks parameter names up linearly, so binding costs grow with the square of the count.
const LINK_BATCH: usize = 100;
/// Accounts per `INSERT … SELECT` of movements.
const MOVEMENT_ACCOUNT_BATCH: usize = 50;
/// Events (and deliveries) per seed statement.
const EVENT_BATCH: u64 = 10_000;

/// Mean durations of a refresh's stages (see [`Seeding::refresh_stages`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct RefreshStages {
    /// Create to the job's start: the create's commit, then a worker's claim.
    pub create_to_start_ms: Option<f64>,
    /// The job's start to the bank's answer: the login and the fetch. (A recording stamps
    /// what it writes, the intent's `finished_at` and the deliveries' `created_at`, with the
    /// time the bank answered, not with its commit's.)
    pub start_to_answer_ms: Option<f64>,
    /// The bank's answer to a delivery's first attempt: the recording's wait for its turn and
    /// its write, then the dispatcher's claim.
    pub answer_to_attempt_ms: Option<f64>,
}

/// Counts a load test checks its results with.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    /// Refresh intents by status.
    pub intents_by_status: Vec<(String, i64)>,
    /// Jobs that were claimed more than once (a lease expired and another claim took over).
    pub jobs_reclaimed: i64,
    /// Webhook deliveries by state.
    pub deliveries_by_state: Vec<(String, i64)>,
    /// Webhook attempts recorded.
    pub attempts: i64,
    /// Movement rows.
    pub movements: i64,
    /// `Idempotency-Key`s stored with their answer.
    pub idempotent_answers: i64,
}

impl Counts {
    /// Intents with this status.
    pub fn intents(&self, status: &str) -> i64 {
        find(&self.intents_by_status, status)
    }
    /// Deliveries in this state.
    pub fn deliveries(&self, state: &str) -> i64 {
        find(&self.deliveries_by_state, state)
    }
}

fn find(list: &[(String, i64)], key: &str) -> i64 {
    list.iter().find(|(k, _)| k == key).map_or(0, |(_, v)| *v)
}

/// A recursive sequence `seq(n)` of `$1` BIGINTs from 0, valid on both engines.
const SEQ: &str = "WITH RECURSIVE seq(n) AS (
    SELECT CAST(0 AS BIGINT) UNION ALL SELECT n + 1 FROM seq WHERE n + 1 < $1)";

/// Seeding and counting on one store; see the [module](self) for what it is (and is not) for.
#[derive(Clone, Copy, Debug)]
pub struct Seeding<'a> {
    store: &'a Store,
}

impl Store {
    /// Seeding for benchmarks and load tests: writes rows directly, bypassing the API; not for
    /// production use (see [`store::seeding`](crate::store::seeding)).
    pub fn seeding(&self) -> Seeding<'_> {
        Seeding { store: self }
    }
}

impl Seeding<'_> {
    /// Starts a seed transaction (on PostgreSQL without waiting for the commit to reach disk).
    async fn begin_seed(&self) -> anyhow::Result<Transaction<'static, Any>> {
        let mut tx = self.store.begin().await?;
        if self.store.dialect == Dialect::Postgres {
            sqlx::query("SET LOCAL synchronous_commit = off")
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }

    /// Enters the seed phase: SQLite trades durability for speed until [`Seeding::finish`].
    pub async fn begin(&self) -> anyhow::Result<()> {
        if self.store.dialect == Dialect::Sqlite {
            // The writer pool has exactly one connection, so the pragma reaches every write.
            sqlx::query("PRAGMA synchronous = OFF")
                .execute(&self.store.write)
                .await?;
        }
        Ok(())
    }

    /// Leaves the seed phase, so what follows is measured on a database as the server keeps
    /// it: SQLite gets `synchronous = FULL` back and a checkpointed WAL; PostgreSQL gets fresh
    /// statistics for its planner.
    pub async fn finish(&self) -> anyhow::Result<()> {
        let write = &self.store.write;
        match self.store.dialect {
            Dialect::Sqlite => {
                sqlx::query("PRAGMA synchronous = FULL")
                    .execute(write)
                    .await?;
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(write)
                    .await?;
            }
            Dialect::Postgres => {
                sqlx::query("ANALYZE").execute(write).await?;
            }
        }
        Ok(())
    }

    /// Seeds `links` as copies of `template` (same owner, bank, holder and accounts, fresh ids,
    /// tokens and credentials). The copies' accounts have no movements, so a refresh inserts
    /// every movement the bank shows.
    pub async fn links(&self, template: &LinkId, links: &[SeedLink]) -> anyhow::Result<()> {
        let template_accounts: Vec<String> =
            sqlx::query_scalar("SELECT id FROM accounts WHERE link_id = $1 ORDER BY position")
                .bind(template.as_str())
                .fetch_all(&self.store.read)
                .await?;
        let now = Timestamp::now().millis();
        for chunk in links.chunks(LINK_BATCH) {
            let mut tx = self.begin_seed().await?;
            let values = placeholders(chunk.len(), 3, 2);
            let sql = format!(
                "INSERT INTO links (id, organization_id, mode, token_hash, institution_id,
                    institution_name, institution_country, holder_type, holder_id, username,
                    credentials, active, credential_status, refresh_status, last_time_refreshed,
                    refresh_count, created_at, login_mfa)
                 SELECT v.column1, t.organization_id, t.mode, v.column2, t.institution_id,
                    t.institution_name, t.institution_country, t.holder_type, t.holder_id,
                    t.username, v.column3, 1, 'active', 'refreshed', t.last_time_refreshed, 0,
                    $1, t.login_mfa
                 FROM (VALUES {values}) AS v CROSS JOIN links t WHERE t.id = $2"
            );
            let mut query = sqlx::query(&sql).bind(now).bind(template.as_str());
            for link in chunk {
                query = query
                    .bind(link.id.as_str())
                    .bind(link.token_hash.as_str())
                    .bind(link.sealed_credentials.clone());
            }
            query.execute(&mut *tx).await?;

            let pairs = chunk.len() * template_accounts.len();
            let values = placeholders(pairs, 3, 1);
            let sql = format!(
                "INSERT INTO accounts (id, link_id, bank_id, position, name, official_name,
                    number, holder_id, holder_name, account_type, currency, balance_available,
                    balance_current, balance_limit, refreshed_at, refresh_status, next_refresh,
                    removed_from_link, created_at)
                 SELECT v.column1, v.column2, t.bank_id, t.position, t.name, t.official_name,
                    t.number, t.holder_id, t.holder_name, t.account_type, t.currency,
                    t.balance_available, t.balance_current, t.balance_limit, t.refreshed_at,
                    t.refresh_status, NULL, 0, $1
                 FROM (VALUES {values}) AS v JOIN accounts t ON t.id = v.column3"
            );
            let mut query = sqlx::query(&sql).bind(now);
            for link in chunk {
                for account in &template_accounts {
                    query = query
                        .bind(AccountId::generate().as_str().to_owned())
                        .bind(link.id.as_str())
                        .bind(account.as_str());
                }
            }
            query.execute(&mut *tx).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// The accounts of `links`, in link then bank order.
    pub async fn accounts_of(&self, links: &[LinkId]) -> anyhow::Result<Vec<AccountId>> {
        let mut accounts = Vec::new();
        for link in links {
            let ids: Vec<String> =
                sqlx::query_scalar("SELECT id FROM accounts WHERE link_id = $1 ORDER BY position")
                    .bind(link.as_str())
                    .fetch_all(&self.store.read)
                    .await?;
            accounts.extend(ids.into_iter().map(AccountId::from_trusted));
        }
        Ok(accounts)
    }

    /// Seeds `per_account` movements into each account: three a day going back from
    /// `newest_day` (midnight UTC, epoch milliseconds), one in 50 pending, the rest confirmed.
    pub async fn movements(
        &self,
        accounts: &[AccountId],
        per_account: u64,
        newest_day: i64,
    ) -> anyhow::Result<()> {
        let now = Timestamp::now().millis();
        const SENDER: &str = r#"{"holder_id":"771433855","holder_name":"Bench Sender SpA","number":"1234567890","institution_id":"cl_banco_de_chile","institution_name":"Banco de Chile","institution_country":"cl"}"#;
        for chunk in accounts.chunks(MOVEMENT_ACCOUNT_BATCH) {
            let mut tx = self.begin_seed().await?;
            let values = placeholders(chunk.len(), 2, 4);
            let sql = format!(
                "{SEQ}
                 INSERT INTO movements (id, account_id, bank_id, amount, currency, description,
                    post_date, transaction_date, movement_type, status, pending, reference_id,
                    comment, sender_account, recipient_account, removed_at, created_at,
                    updated_at)
                 SELECT 'mov_' || v.column2 || 'n' || s.n, v.column1, 'bench' || s.n,
                    CASE WHEN s.n % 3 = 0 THEN -(1000 + (s.n * 7919) % 500000)
                         ELSE 1000 + (s.n * 104729) % 900000 END,
                    'CLP', 'Traspaso de: Bench ' || (s.n % 97),
                    $2 - (s.n / 3) * 86400000, $2 - (s.n / 3) * 86400000 + 43200000,
                    'transfer',
                    CASE WHEN s.n % 50 = 7 THEN 'pending' ELSE 'confirmed' END,
                    CASE WHEN s.n % 50 = 7 THEN 1 ELSE 0 END,
                    'ref' || s.n, NULL,
                    CASE WHEN s.n % 3 = 0 THEN NULL ELSE $3 END, NULL, NULL, $4, $4
                 FROM (VALUES {values}) AS v CROSS JOIN seq s"
            );
            let mut query = sqlx::query(&sql)
                .bind(i64::try_from(per_account)?)
                .bind(newest_day)
                .bind(SENDER)
                .bind(now);
            for account in chunk {
                let tag = account.as_str().trim_start_matches(AccountId::PREFIX);
                query = query.bind(account.as_str()).bind(tag.to_owned());
            }
            query.execute(&mut *tx).await?;
            // As every write of movements: the accounts' totals counted before are stale.
            let bump = format!(
                "UPDATE accounts SET movements_version = movements_version + 1 WHERE id IN ({})",
                super::id_list(chunk.len(), 1)
            );
            let mut bump = sqlx::query(&bump);
            for account in chunk {
                bump = bump.bind(account.as_str());
            }
            bump.execute(&mut *tx).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Seeds `count` link-level `succeeded` events of `organization_id` in test mode, each with
    /// one pending delivery to `endpoint_id`, due now.
    pub async fn events(
        &self,
        organization_id: &OrganizationId,
        endpoint_id: &WebhookEndpointId,
        link_id: &LinkId,
        count: u64,
    ) -> anyhow::Result<()> {
        let now = Timestamp::now();
        let created = now.to_wire();
        let mut start = 0;
        while start < count {
            let batch = EVENT_BATCH.min(count - start);
            let mut tx = self.begin_seed().await?;
            // `seq` counts 0..batch; `$2` offsets it so every batch makes new ids.
            let data = format!(
                "'{{\"id\":\"ri_bench' || (s.n + $2) || '\",\"object\":\"refresh_intent\",\
                 \"refreshed_object\":\"link\",\"refreshed_object_id\":\"{link_id}\",\
                 \"status\":\"succeeded\",\"public_error\":null,\"created_at\":\"{created}\",\
                 \"type\":\"only_last\",\"new_movements\":50}}'"
            );
            let sql = format!(
                "{SEQ}
                 INSERT INTO events (id, organization_id, mode, event_type, link_id, data,
                    created_at)
                 SELECT 'evt_bench' || (s.n + $2), $3, 'test', 'link.refresh_intent.succeeded',
                    $4, {data}, $5
                 FROM seq s"
            );
            sqlx::query(&sql)
                .bind(i64::try_from(batch)?)
                .bind(i64::try_from(start)?)
                .bind(organization_id.as_str())
                .bind(link_id.as_str())
                .bind(now.millis())
                .execute(&mut *tx)
                .await?;
            let sql = format!(
                "{SEQ}
                 INSERT INTO webhook_deliveries (id, event_id, endpoint_id, state, attempts,
                    next_attempt_at, created_at)
                 SELECT 'whd_bench' || (s.n + $2), 'evt_bench' || (s.n + $2), $3, 'pending', 0,
                    $4, $4
                 FROM seq s"
            );
            sqlx::query(&sql)
                .bind(i64::try_from(batch)?)
                .bind(i64::try_from(start)?)
                .bind(endpoint_id.as_str())
                .bind(now.millis())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            start += batch;
        }
        Ok(())
    }

    /// Intents still in progress (status `created`).
    pub async fn intents_in_progress(&self) -> anyhow::Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM refresh_intents WHERE status = 'created'")
                .fetch_one(&self.store.read)
                .await?,
        )
    }

    /// What a load test checks its results with.
    pub async fn counts(&self) -> anyhow::Result<Counts> {
        let grouped = |sql: &'static str| async move {
            let rows = sqlx::query(sql).fetch_all(&self.store.read).await?;
            rows.iter()
                .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?)))
                .collect::<anyhow::Result<Vec<_>>>()
        };
        let count = |sql: &'static str| async move {
            anyhow::Ok(
                sqlx::query_scalar::<_, i64>(sql)
                    .fetch_one(&self.store.read)
                    .await?,
            )
        };
        Ok(Counts {
            intents_by_status: grouped(
                "SELECT status, COUNT(*) FROM refresh_intents GROUP BY status",
            )
            .await?,
            jobs_reclaimed: count("SELECT COUNT(*) FROM refresh_jobs WHERE attempts > 1").await?,
            deliveries_by_state: grouped(
                "SELECT state, COUNT(*) FROM webhook_deliveries GROUP BY state",
            )
            .await?,
            attempts: count("SELECT COUNT(*) FROM webhook_attempts").await?,
            movements: count("SELECT COUNT(*) FROM movements").await?,
            idempotent_answers: count(
                "SELECT COUNT(*) FROM idempotency_keys WHERE response_body IS NOT NULL",
            )
            .await?,
        })
    }

    /// Where a refresh's time goes, from the rows it left: the mean milliseconds from create
    /// to the job's start, from the start to the recording, and from the recording (which
    /// writes the webhook deliveries) to each delivery's first attempt; over the refreshes
    /// created at or after `since` (Unix milliseconds). `None` where no row qualifies.
    pub async fn refresh_stages(&self, since: i64) -> anyhow::Result<RefreshStages> {
        let (queued, at_bank): (Option<f64>, Option<f64>) = sqlx::query_as(
            "SELECT CAST(AVG(started_at - created_at) AS DOUBLE PRECISION),
                    CAST(AVG(finished_at - started_at) AS DOUBLE PRECISION)
             FROM refresh_intents
             WHERE created_at >= $1 AND started_at IS NOT NULL AND finished_at IS NOT NULL",
        )
        .bind(since)
        .fetch_one(&self.store.read)
        .await?;
        let to_webhook: Option<f64> = sqlx::query_scalar(
            "SELECT CAST(AVG(first_attempt - created_at) AS DOUBLE PRECISION)
             FROM (SELECT d.created_at AS created_at, MIN(a.attempted_at) AS first_attempt
                   FROM webhook_deliveries d JOIN webhook_attempts a ON a.delivery_id = d.id
                   WHERE d.created_at >= $1 GROUP BY d.id, d.created_at) firsts",
        )
        .bind(since)
        .fetch_one(&self.store.read)
        .await?;
        Ok(RefreshStages {
            create_to_start_ms: queued,
            start_to_answer_ms: at_bank,
            answer_to_attempt_ms: to_webhook,
        })
    }

    /// The database engine and its version, for a report.
    pub async fn database_version(&self) -> anyhow::Result<String> {
        let sql = match self.store.dialect {
            Dialect::Sqlite => "SELECT 'SQLite ' || sqlite_version()",
            Dialect::Postgres => "SELECT 'PostgreSQL ' || current_setting('server_version')",
        };
        Ok(sqlx::query_scalar(sql).fetch_one(&self.store.read).await?)
    }
}
