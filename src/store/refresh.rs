//! Creating a refresh intent: with its job, in one transaction, under the rules on create.
//! Reads of intents are in `intents.rs`.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::group_commit::GroupedWrite;
use super::idempotency::KeyedCreate;
use super::intents::{intent_columns, intent_from_row};
use super::rows::{get_flag, get_time};
use super::Store;
use crate::domain::*;

/// A refresh intent to create, for the link a presented token names. The create itself checks
/// the token and the link (see [`CREATE_SCRIPT`]), so no read of the link precedes it.
#[derive(Clone, Debug)]
pub struct NewRefreshIntent {
    /// Its id.
    pub id: RefreshIntentId,
    /// Owner: the key's organization.
    pub organization_id: OrganizationId,
    /// The key's mode.
    pub mode: Mode,
    /// The link the token names.
    pub link_id: LinkId,
    /// Keyed hash of the presented link token: the create happens only if it is the link's.
    pub link_token_hash: String,
    /// only_last or historical.
    pub refresh_type: RefreshType,
    /// Test-mode forced outcome.
    pub forced_result: Option<IntentStatus>,
    /// Keyed hash of a widget token, kept only if the link's bank asks for a second factor
    /// (the link's `login_mfa`) and no result is forced.
    pub widget_token_hash: String,
    /// That widget token sealed under the master key (to show `requires_mfa` again).
    pub widget_token_sealed: Vec<u8>,
    /// Creation time.
    pub now: Timestamp,
    /// When the whole refresh must be over.
    pub deadline: Timestamp,
}

impl NewRefreshIntent {
    /// The intent as its create stores it when the link's bank asks for no second factor (the
    /// usual case): what a keyed create's answer is written from before the insert.
    fn as_created(&self) -> RefreshIntent {
        RefreshIntent {
            id: self.id.clone(),
            organization_id: self.organization_id.clone(),
            mode: self.mode,
            link_id: self.link_id.clone(),
            refresh_type: self.refresh_type,
            status: IntentStatus::Created,
            new_movements: 0,
            public_error: None,
            failure_reason: None,
            mfa_pending: None,
            mfa_expires_at: None,
            forced_result: self.forced_result,
            created_at: self.now,
            started_at: None,
            finished_at: None,
            widget_token_sealed: None,
        }
    }
}

/// What a database error means for a create of an intent of `link`: the create's
/// `Idempotency-Key` already stored, the partial unique index refusing a second intent in
/// progress (a create that raced another past the rules), or a failure.
fn create_failed(e: sqlx::Error, link: &LinkId) -> CreateIntentError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            // SQLite names the table's columns in its message, PostgreSQL the constraint.
            let names_key = |text: &str| text.contains("idempotency_keys");
            if names_key(db.message()) || db.constraint().is_some_and(names_key) {
                CreateIntentError::IdempotencyKeyTaken
            } else {
                CreateIntentError::InProgress(link.clone())
            }
        }
        _ => CreateIntentError::Internal(e.into()),
    }
}

/// The live link `$4` of organization `$2` and mode `$3`, if `$9` is its token's hash.
macro_rules! opens_link {
    () => {
        "l.id = $4 AND l.organization_id = $2 AND l.mode = $3
    AND l.deleted_at IS NULL AND l.token_hash = $9"
    };
}

/// The last success that counts for the cooldown, of link `$4`: neither a forced result nor
/// the link's first history (its refresh number 0) counts.
macro_rules! last_success {
    () => {
        "FROM refresh_intents s
    WHERE s.link_id = $4 AND s.status = 'succeeded' AND s.forced_result IS NULL
      AND s.refresh_number > 0
    ORDER BY s.finished_at DESC LIMIT 1"
    };
}

/// What the rules on create read of link `l`: whether it is active and its credential status,
/// how many of its intents are in progress, and the kind and finish time of its last success.
macro_rules! rule_columns {
    () => {
        concat!(
            "l.active, l.credential_status,
        (SELECT COUNT(*) FROM refresh_intents WHERE link_id = $4 AND status = 'created')
            AS in_progress,
        (SELECT s.refresh_type ",
            last_success!(),
            ") AS last_kind,
        (SELECT s.finished_at ",
            last_success!(),
            ") AS last_finished"
        )
    };
}

/// The intent's insert, up to its `FROM`: its columns and their values, from the link `l` the
/// token opens, whose `login_mfa` says whether the widget token is kept. Both engines' creates
/// insert it, each from its own `FROM` and rules ([`CREATE_SCRIPT`], [`PG_CREATE`]).
macro_rules! new_intent {
    () => {
        "INSERT INTO refresh_intents (id, organization_id, mode, link_id, refresh_type, status,
        forced_result, new_movements, widget_token_hash, widget_token_sealed, mfa_kind,
        created_at, deadline_at, refresh_number, fetch_day)
     SELECT $1, $2, $3, $4, $5, 'created', $6, 0,
        CASE WHEN $6 IS NULL AND l.login_mfa IS NOT NULL THEN $7 END,
        CASE WHEN $6 IS NULL AND l.login_mfa IS NOT NULL THEN $8 END,
        CASE WHEN $6 IS NULL THEN l.login_mfa END,
        $10, $11,
        (SELECT COALESCE(MAX(refresh_number), 0) FROM refresh_intents WHERE link_id = $4) + 1,
        $12"
    };
}

/// The row of a keyed create's `Idempotency-Key` with its answer, up to its `FROM` (the intent
/// `i` just inserted, so a refused create stores nothing). A key already stored fails the
/// insert on the table's primary key, and the whole create with it (`IdempotencyKeyTaken`).
/// The answer was written for an intent without a second factor; for one with (`mfa_kind`),
/// the key is stored in progress and [`insert_intent`] writes the answer next. On PostgreSQL
/// that is a statement of its own (the create runs without a transaction): a crash between
/// leaves the key in progress, never with a wrong answer.
macro_rules! keyed_answer {
    () => {
        "INSERT INTO idempotency_keys (organization_id, mode, idempotency_key, fingerprint,
        status_code, response_body, created_at)
     SELECT $2, $3, $16, $17, CASE WHEN i.mfa_kind IS NULL THEN $18 END,
        CASE WHEN i.mfa_kind IS NULL THEN $19 END, $10"
    };
}

/// SQLite's create: the four writes (the intent, its job, the link's and its accounts' status),
/// in one numbering of parameters: `$1` id, `$2` organization, `$3` mode, `$4` link, `$5`
/// refresh type, `$6` forced result, `$7` widget token hash, `$8` sealed widget token, `$9`
/// the presented link token's hash, `$10` now, `$11` deadline, `$12` fetch day, and for the
/// cooldown `$13` `'historical'` as stored, `$14` and `$15` the times after which a last
/// success of `historical` and of `only_last` blocks the create ([`Cooldowns::blocks_after`]);
/// for a create with an `Idempotency-Key`, `$16` the key, `$17` the request's fingerprint, `$18`
/// and `$19` the answer's status and stored body (all four null without a key).
/// Every statement is bound with all nineteen (`bind_create`): SQLite's script shares them, and
/// PostgreSQL accepts parameters a statement does not use, since sqlx declares each one's type.
///
/// Everything that can refuse a create is part of the intent's insert: the token must be the
/// link's (`opens_link!`; keyed hashes compared, as API keys are found by theirs), the link
/// active and its credentials not refused, no other intent of the link in progress and the
/// link not cooling down; the link's `login_mfa` says whether the widget token is kept. The
/// job and the statuses are written only if the intent was. So a create is one round
/// trip to SQLite's writer, with no read before it; only a refused one asks [`RULES`] why, on
/// the writer's connection in the same transaction, where nothing else can have written in
/// between. The writes run in a savepoint of their own (see `insert_intent`); the intent's
/// insert returns the intent. PostgreSQL runs [`PG_CREATE`] instead.
const CREATE_SCRIPT: &str = concat!(
    "SAVEPOINT create_intent; ",
    new_intent!(),
    "
     FROM links l
     WHERE ",
    opens_link!(),
    " AND l.active = 1 AND l.credential_status <> 'login_required'
       AND NOT EXISTS (SELECT 1 FROM refresh_intents WHERE link_id = $4 AND status = 'created')
       AND NOT EXISTS (SELECT 1 FROM (SELECT s.refresh_type, s.finished_at ",
    last_success!(),
    ") last
           WHERE last.finished_at > CASE last.refresh_type WHEN $13 THEN $14 ELSE $15 END)
     RETURNING ",
    intent_columns!(),
    ";
    INSERT INTO refresh_jobs (intent_id, state, run_after, attempts, updated_at)
     SELECT $1, 'ready', $10, 0, $10 WHERE EXISTS (SELECT 1 FROM refresh_intents WHERE id = $1);
    ",
    keyed_answer!(),
    " FROM refresh_intents i WHERE i.id = $1 AND $16 IS NOT NULL;
    UPDATE links SET refresh_status = 'refreshing'
     WHERE id = $4 AND EXISTS (SELECT 1 FROM refresh_intents WHERE id = $1);
    UPDATE accounts SET refresh_status = 'refreshing'
     WHERE link_id = $4 AND removed_from_link = 0
       AND EXISTS (SELECT 1 FROM refresh_intents WHERE id = $1);
    RELEASE create_intent"
);

/// Why a create was refused: whether the token opens the link (no row if not), and the
/// link's `rule_columns!` (read by [`refusal`]).
const RULES: &str = concat!(
    "SELECT ",
    rule_columns!(),
    " FROM links l WHERE ",
    opens_link!()
);

/// PostgreSQL's create: the rules, the four writes and, when they refuse, the reason, in one
/// statement. Each statement of a READ COMMITTED transaction sees the latest commit, so a
/// second statement asking why an insert wrote nothing could see a later state (the intent in
/// progress has just ended) and find no reason; here the decision and its reason come from
/// one snapshot (every part of one statement, subqueries included, reads the same one). The
/// statement answers one row unless the token opens no link: the link's rule columns (as
/// [`RULES`]), and the intent's columns, null when the rules refused. A create that races
/// another past the snapshot meets the partial unique index (`InProgress`).
const PG_CREATE: &str = concat!(
    "WITH link AS (
        SELECT ",
    rule_columns!(),
    ", l.login_mfa
        FROM links l WHERE ",
    opens_link!(),
    "
    ), intent AS (
        ",
    new_intent!(),
    "
        FROM link l
        WHERE l.active = 1 AND l.credential_status <> 'login_required' AND l.in_progress = 0
          AND NOT COALESCE(l.last_finished > CASE l.last_kind WHEN $13 THEN $14 ELSE $15 END,
              FALSE)
        RETURNING ",
    intent_columns!(),
    "
    ), job AS (
        INSERT INTO refresh_jobs (intent_id, state, run_after, attempts, updated_at)
        SELECT id, 'ready', $10, 0, $10 FROM intent
    ), refreshing AS (
        UPDATE links SET refresh_status = 'refreshing'
        WHERE id = $4 AND EXISTS (SELECT 1 FROM intent)
    ), accounts_refreshing AS (
        UPDATE accounts SET refresh_status = 'refreshing'
        WHERE link_id = $4 AND removed_from_link = 0 AND EXISTS (SELECT 1 FROM intent)
    ), keyed AS (
        ",
    keyed_answer!(),
    " FROM intent i WHERE $16 IS NOT NULL
    )
    SELECT l.active, l.credential_status, l.in_progress, l.last_kind, l.last_finished, i.*
    FROM link l LEFT JOIN intent i ON TRUE"
);

/// `sql` ([`CREATE_SCRIPT`], [`RULES`] or [`PG_CREATE`]) with the create's parameters.
fn bind_create<'q>(
    sql: &'q str,
    new: &'q NewRefreshIntent,
    cooldowns: Cooldowns,
    fetch_day: Timestamp,
    keyed: Option<(&'q KeyedCreate, &'q str)>,
) -> super::rows::AnyQuery<'q> {
    sqlx::query(sql)
        .bind(new.id.as_str())
        .bind(new.organization_id.as_str())
        .bind(new.mode.as_str())
        .bind(new.link_id.as_str())
        .bind(new.refresh_type.as_str())
        .bind(new.forced_result.map(IntentStatus::as_str))
        .bind(new.widget_token_hash.as_str())
        .bind(new.widget_token_sealed.clone())
        .bind(new.link_token_hash.as_str())
        .bind(new.now.millis())
        .bind(new.deadline.millis())
        .bind(fetch_day.millis())
        .bind(RefreshType::Historical.as_str())
        .bind(
            cooldowns
                .blocks_after(RefreshType::Historical, new.now)
                .millis(),
        )
        .bind(
            cooldowns
                .blocks_after(RefreshType::OnlyLast, new.now)
                .millis(),
        )
        .bind(keyed.map(|(k, _)| k.key.as_str()))
        .bind(keyed.map(|(k, _)| k.fingerprint.as_str()))
        .bind(keyed.map(|(k, _)| i64::from(k.status)))
        .bind(keyed.map(|(_, stored)| stored))
}

/// Checks the rules on create and writes the intent, its job and the link's refresh status on
/// `conn`, inside the caller's transaction, with the answer to its `Idempotency-Key` if it has
/// one; returns the intent as stored. A refused create writes nothing.
async fn insert_intent(
    conn: &mut sqlx::AnyConnection,
    new: &NewRefreshIntent,
    cooldowns: Cooldowns,
    keyed: Option<&KeyedCreate>,
) -> Result<RefreshIntent, CreateIntentError> {
    // The answer is stored by the insert, written for the intent as expected; the rare intent
    // stored otherwise (its bank asks for a second factor) has its answer written below.
    let expected = keyed.map(|k| k.answer.body(&new.as_created()));
    let stored = keyed
        .zip(expected.as_ref())
        .map(|(k, b)| k.answer.stored(b));
    let intent = insert_keyed(conn, new, cooldowns, keyed.zip(stored.as_deref())).await?;
    if let Some((keyed, expected)) = keyed.zip(expected) {
        let body = keyed.answer.body(&intent);
        // Stored in progress by the insert (`keyed_answer!`), or with another answer.
        if body != expected || intent.mfa_pending.is_some() {
            sqlx::query(
                "UPDATE idempotency_keys SET status_code = $1, response_body = $2
                 WHERE organization_id = $3 AND mode = $4 AND idempotency_key = $5",
            )
            .bind(i64::from(keyed.status))
            .bind(keyed.answer.stored(&body))
            .bind(new.organization_id.as_str())
            .bind(new.mode.as_str())
            .bind(keyed.key.as_str())
            .execute(&mut *conn)
            .await
            .map_err(|e| CreateIntentError::Internal(e.into()))?;
        }
    }
    Ok(intent)
}

/// [`insert_intent`] with the answer to store, if keyed.
async fn insert_keyed(
    conn: &mut sqlx::AnyConnection,
    new: &NewRefreshIntent,
    cooldowns: Cooldowns,
    keyed: Option<(&KeyedCreate, &str)>,
) -> Result<RefreshIntent, CreateIntentError> {
    // What the bank will be asked about is fixed now, so a retried job asks the same
    // question: the day here, and in the insert which refresh of the link this is.
    let fetch_day = Timestamp::start_of(
        chrono::DateTime::from_timestamp_millis(new.now.millis())
            .unwrap_or_default()
            .date_naive(),
    );
    // A forced test outcome never talks to the bank, so no cooldown (which protects the bank)
    // holds it back.
    let cooldowns = if new.forced_result.is_some() {
        Cooldowns::NONE
    } else {
        cooldowns
    };
    let bind = |sql| bind_create(sql, new, cooldowns, fetch_day, keyed);
    let failed = |e| create_failed(e, &new.link_id);
    if !super::is_sqlite(conn) {
        let row = bind(PG_CREATE).fetch_optional(&mut *conn).await;
        let Some(row) = row.map_err(failed)? else {
            return Err(CreateIntentError::UnknownLink);
        };
        if row
            .try_get::<Option<String>, _>("id")
            .map_err(failed)?
            .is_some()
        {
            return Ok(intent_from_row(&row)?);
        }
        return Err(refused_by(&row, new, cooldowns)?);
    }
    // One round trip to SQLite's writer thread instead of five: the writes run as one script
    // (its numbered parameters are shared by all its statements) in a savepoint of their own,
    // so a failure leaves none of them in the caller's transaction. Each round trip wakes the
    // writer thread and then the caller's task; a profile of S1 showed those wake-ups as the
    // largest cost of a create.
    let created = match bind(CREATE_SCRIPT).fetch_all(&mut *conn).await {
        Ok(mut rows) if rows.len() <= 1 => rows.pop(),
        outcome => {
            sqlx::query("ROLLBACK TO create_intent; RELEASE create_intent")
                .execute(&mut *conn)
                .await
                .map_err(failed)?;
            return Err(match outcome {
                Err(e) => failed(e),
                Ok(rows) => anyhow::anyhow!("a create returned {} rows", rows.len()).into(),
            });
        }
    };
    match created {
        Some(row) => Ok(intent_from_row(&row)?),
        None => Err(refusal(conn, new, cooldowns, fetch_day)
            .await
            .unwrap_or_else(CreateIntentError::Internal)),
    }
}

/// Which rule refused a create whose SQLite script wrote nothing. It runs on the writer's
/// connection in the same transaction, where nothing else writes, so it sees what the insert
/// saw.
async fn refusal(
    conn: &mut sqlx::AnyConnection,
    new: &NewRefreshIntent,
    cooldowns: Cooldowns,
    fetch_day: Timestamp,
) -> anyhow::Result<CreateIntentError> {
    match bind_create(RULES, new, cooldowns, fetch_day, None)
        .fetch_optional(&mut *conn)
        .await?
    {
        None => Ok(CreateIntentError::UnknownLink),
        Some(row) => refused_by(&row, new, cooldowns),
    }
}

/// The rule that refuses `new`, from a row with the columns of [`RULES`]. Every refused
/// insert has one, since the row is read in the insert's snapshot; none is an internal error.
fn refused_by(
    row: &AnyRow,
    new: &NewRefreshIntent,
    cooldowns: Cooldowns,
) -> anyhow::Result<CreateIntentError> {
    if !get_flag(row, "active")? {
        return Ok(CreateIntentError::Inactive);
    }
    let credential_status: String = row.try_get("credential_status")?;
    if credential_status == CredentialStatus::LoginRequired.as_str() {
        return Ok(CreateIntentError::LoginRequired);
    }
    if row.try_get::<i64, _>("in_progress")? > 0 {
        return Ok(CreateIntentError::InProgress(new.link_id.clone()));
    }
    let last_kind: Option<String> = row.try_get("last_kind")?;
    if let (Some(kind), Some(finished)) = (last_kind, get_time(row, "last_finished")?) {
        let kind = RefreshType::parse(&kind).unwrap_or(RefreshType::OnlyLast);
        if let Some(allowed) = cooldowns.refuses(kind, finished, new.now) {
            return Ok(CreateIntentError::cooldown(allowed, new.now));
        }
    }
    anyhow::bail!("a create inserted nothing, and no rule refuses it")
}

/// A create in the group writer's transaction (SQLite). Its script runs in a savepoint of its
/// own, so a refused or failed create undoes itself; a refusal stands even if its group fails
/// to commit, since it wrote nothing.
struct CreateIntent {
    new: NewRefreshIntent,
    cooldowns: Cooldowns,
    keyed: Option<KeyedCreate>,
}

impl GroupedWrite for CreateIntent {
    type Output = Result<RefreshIntent, CreateIntentError>;
    const UNDOES_ITSELF: bool = true;

    async fn write(&self, conn: &mut AnyConnection) -> anyhow::Result<Self::Output> {
        Ok(insert_intent(conn, &self.new, self.cooldowns, self.keyed.as_ref()).await)
    }

    fn stands_without_commit(output: &Self::Output) -> bool {
        output.is_err()
    }
}

impl Store {
    /// Creates an intent and its job in one transaction, unless the token does not open the
    /// link, the link is inactive or its credentials were refused, another intent of the link
    /// is in progress (the database's partial unique index decides races) or the link is
    /// cooling down after a success. With `keyed`, the answer to its `Idempotency-Key` is
    /// stored in the same transaction, unless the key is already stored. On SQLite, creates that arrive together share one commit (see
    /// [`super::group_commit`]); either way the intent is durable when this returns.
    #[tracing::instrument(skip_all, fields(intent_id = %new.id, link_id = %new.link_id))]
    pub async fn create_refresh_intent(
        &self,
        new: &NewRefreshIntent,
        cooldowns: Cooldowns,
        keyed: Option<&KeyedCreate>,
    ) -> Result<RefreshIntent, CreateIntentError> {
        match &self.group_writer {
            Some(writer) => {
                let create = CreateIntent {
                    new: new.clone(),
                    cooldowns,
                    keyed: keyed.cloned(),
                };
                writer.ask(create).await?
            }
            None => {
                // PostgreSQL: one statement, atomic alone, so no `BEGIN` and `COMMIT` round
                // trips around it (a keyed create of a second-factor link completes its key's
                // answer in a second statement: see `keyed_answer!`).
                let mut conn = self.write.acquire().await.map_err(anyhow::Error::from)?;
                insert_intent(&mut conn, new, cooldowns, keyed).await
            }
        }
    }
}
