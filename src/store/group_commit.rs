//! Group commit of the most frequent writes on SQLite: refresh-intent creates, job heartbeats
//! and the recordings of finished refreshes.
//!
//! SQLite has one writer and, with `synchronous = FULL`, every commit waits for an fsync of the
//! WAL (about a millisecond on common disks): one write per commit caps these writes at roughly
//! one thousand a second however many clients ask (and 10,000 refreshes in flight send 1,000
//! heartbeats a second with the default 30 s lease). Here writes that arrive while a commit is
//! in flight queue up, and a single writer task puts each queued batch in **one** transaction:
//! every create and every recording runs inside its own savepoint (so one refused by a rule,
//! or by the one-in-progress index, or one that fails, rolls back alone), then one `COMMIT` (one fsync) makes the whole batch
//! durable, and only then is each caller answered. An acknowledged write is on disk exactly as
//! before; a lone write waits for nobody (the batch is whatever is queued, never a timer).
//!
//! PostgreSQL needs none of this: its commits from concurrent connections already share WAL
//! flushes, so on PostgreSQL these writes commit one by one.

use sqlx::{Acquire, AnyPool};
use tokio::sync::{mpsc, oneshot};

use super::ingest::{RecordedCounts, Recording};
use super::refresh::{insert_intent, CreateRefreshError, NewRefreshIntent};
use crate::domain::{Cooldowns, RefreshIntent, RefreshIntentId, Timestamp};

/// Creates per transaction at most (bounds one commit's size and latency).
const MAX_BATCH: usize = 256;

enum Request {
    /// Create a refresh intent (rules checked in its savepoint).
    Create {
        new: NewRefreshIntent,
        cooldowns: Cooldowns,
        answer: oneshot::Sender<Result<RefreshIntent, CreateRefreshError>>,
    },
    /// Record a finished refresh (fenced by its lease inside its savepoint).
    Record {
        recording: Box<Recording>,
        answer: oneshot::Sender<anyhow::Result<Option<RecordedCounts>>>,
    },
    /// Extend a job's lease, fenced by its token; answers whether the lease was still ours.
    Heartbeat {
        intent_id: RefreshIntentId,
        lease_token: String,
        expires_at: i64,
        answer: oneshot::Sender<anyhow::Result<bool>>,
    },
}

/// A handle to the writer task; cloned with the store. The task ends when every handle is gone.
#[derive(Clone, Debug)]
pub(super) struct GroupWriter {
    queue: mpsc::UnboundedSender<Request>,
}

impl GroupWriter {
    /// Starts the writer task over the (single-connection) SQLite write pool.
    pub(super) fn start(write: AnyPool) -> Self {
        let (queue, requests) = mpsc::unbounded_channel();
        tokio::spawn(run(write, requests));
        Self { queue }
    }

    /// Creates `new` in the next batch; returns once its batch is committed (or refused).
    pub(super) async fn create(
        &self,
        new: &NewRefreshIntent,
        cooldowns: Cooldowns,
    ) -> Result<RefreshIntent, CreateRefreshError> {
        let (answer, answered) = oneshot::channel();
        self.queue
            .send(Request::Create {
                new: new.clone(),
                cooldowns,
                answer,
            })
            .map_err(|_| anyhow::anyhow!("the group writer has stopped"))?;
        answered
            .await
            .map_err(|_| anyhow::anyhow!("the group writer dropped a create"))?
    }

    /// Records `recording` in the next batch; returns once its batch is committed.
    pub(super) async fn record(
        &self,
        recording: Recording,
    ) -> anyhow::Result<Option<RecordedCounts>> {
        let (answer, answered) = oneshot::channel();
        self.queue
            .send(Request::Record {
                recording: Box::new(recording),
                answer,
            })
            .map_err(|_| anyhow::anyhow!("the group writer has stopped"))?;
        answered
            .await
            .map_err(|_| anyhow::anyhow!("the group writer dropped a recording"))?
    }

    /// Extends the lease of `intent_id` held with `lease_token` to `expires_at` in the next
    /// batch; false when the lease is no longer ours.
    pub(super) async fn heartbeat(
        &self,
        intent_id: &RefreshIntentId,
        lease_token: &str,
        expires_at: i64,
    ) -> anyhow::Result<bool> {
        let (answer, answered) = oneshot::channel();
        self.queue
            .send(Request::Heartbeat {
                intent_id: intent_id.clone(),
                lease_token: lease_token.to_owned(),
                expires_at,
                answer,
            })
            .map_err(|_| anyhow::anyhow!("the group writer has stopped"))?;
        answered
            .await
            .map_err(|_| anyhow::anyhow!("the group writer dropped a heartbeat"))?
    }
}

async fn run(write: AnyPool, mut requests: mpsc::UnboundedReceiver<Request>) {
    // `recv_many` waits for one request, then takes whatever else is queued (up to the max).
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while requests.recv_many(&mut batch, MAX_BATCH).await > 0 {
        commit_batch(&write, std::mem::take(&mut batch)).await;
    }
}

/// What one request of a batch did, before the commit decides.
enum Done {
    Create(Result<RefreshIntent, CreateRefreshError>),
    Record(anyhow::Result<Option<RecordedCounts>>),
    Heartbeat(Result<bool, sqlx::Error>),
}

/// One transaction for the whole batch, one savepoint per create; answers after `COMMIT`.
#[tracing::instrument(skip_all, fields(batch = batch.len()))]
async fn commit_batch(write: &AnyPool, batch: Vec<Request>) {
    let mut tx = match write.begin_with("BEGIN IMMEDIATE").await {
        Ok(tx) => tx,
        Err(e) => {
            let message = format!("beginning a transaction: {e}");
            for request in batch {
                answer(request, Err(anyhow::anyhow!("{message}")), None);
            }
            return;
        }
    };
    let mut done = Vec::with_capacity(batch.len());
    for request in &batch {
        match request {
            Request::Create { new, cooldowns, .. } => {
                // A create writes in a savepoint of its own (see `insert_intent`): one that
                // fails is undone alone.
                let outcome = insert_intent(&mut tx, new, *cooldowns).await;
                done.push(Done::Create(outcome));
            }
            Request::Record { recording, .. } => {
                let outcome = async {
                    let mut savepoint = tx.begin().await?;
                    let recorded = recording.write(&mut savepoint).await?;
                    savepoint.commit().await?;
                    Ok(recorded)
                }
                .await;
                // As for creates: an error rolls back to the savepoint, undoing this one only.
                done.push(Done::Record(outcome));
            }
            Request::Heartbeat {
                intent_id,
                lease_token,
                expires_at,
                ..
            } => {
                let outcome = sqlx::query(
                    "UPDATE refresh_jobs SET lease_expires_at = $1, updated_at = $2
                     WHERE intent_id = $3 AND lease_token = $4 AND state = 'running'",
                )
                .bind(*expires_at)
                .bind(Timestamp::now().millis())
                .bind(intent_id.as_str())
                .bind(lease_token.as_str())
                .execute(&mut *tx)
                .await
                .map(|done| done.rows_affected() == 1);
                done.push(Done::Heartbeat(outcome));
            }
        }
    }
    let committed = tx
        .commit()
        .await
        .map_err(|e| anyhow::anyhow!("committing a group of writes: {e}"));
    for (request, done) in batch.into_iter().zip(done) {
        match &committed {
            Ok(()) => answer(request, Ok(()), Some(done)),
            Err(e) => answer(request, Err(anyhow::anyhow!("{e:#}")), Some(done)),
        }
    }
}

/// Answers one request: with its own outcome once the batch committed, or with the batch's
/// error (a create a rule refused keeps its refusal: nothing of it was to be written anyway).
fn answer(request: Request, batch: anyhow::Result<()>, done: Option<Done>) {
    match request {
        Request::Create { answer, .. } => {
            let outcome = match (batch, done) {
                (Ok(()), Some(Done::Create(outcome))) => outcome,
                (_, Some(Done::Create(Err(refused)))) => Err(refused),
                (Err(e), _) => Err(CreateRefreshError::Store(e)),
                (Ok(()), _) => Err(CreateRefreshError::Store(anyhow::anyhow!("lost outcome"))),
            };
            let _ = answer.send(outcome);
        }
        Request::Record { answer, .. } => {
            let outcome = match (batch, done) {
                (Ok(()), Some(Done::Record(outcome))) => outcome,
                (Err(e), _) => Err(e),
                (Ok(()), _) => Err(anyhow::anyhow!("lost outcome")),
            };
            let _ = answer.send(outcome);
        }
        Request::Heartbeat { answer, .. } => {
            let outcome = match (batch, done) {
                (Ok(()), Some(Done::Heartbeat(outcome))) => outcome.map_err(Into::into),
                (Err(e), _) => Err(e),
                (Ok(()), _) => Err(anyhow::anyhow!("lost outcome")),
            };
            let _ = answer.send(outcome);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{EventMaker, NewKeyPair, NewLink, PageRequest, RefreshOutcome, Store};
    use super::*;
    use crate::config::DatabaseTarget;
    use crate::domain::*;

    async fn link(store: &Store, organization_id: &OrganizationId) -> LinkId {
        let id = LinkId::generate();
        store
            .create_link(&NewLink {
                id: id.clone(),
                organization_id: organization_id.clone(),
                mode: Mode::Test,
                token_hash: format!("hash-{id}"),
                institution: InstitutionRef {
                    id: "cl_banco_sandbox".into(),
                    name: "Banco Sandbox Chile".into(),
                    country: "cl".into(),
                },
                holder_type: HolderType::Individual,
                holder_id: "416148503".into(),
                username: "41614850-3".into(),
                sealed_credentials: vec![1, 2, 3],
                accounts: Vec::new(),
                fetched_at: Timestamp::now(),
                login_mfa: None,
            })
            .await
            .unwrap();
        id
    }

    fn intent(organization_id: &OrganizationId, link_id: &LinkId) -> NewRefreshIntent {
        let now = Timestamp::now();
        NewRefreshIntent {
            id: RefreshIntentId::generate(),
            organization_id: organization_id.clone(),
            mode: Mode::Test,
            link_id: link_id.clone(),
            refresh_type: RefreshType::OnlyLast,
            forced_result: None,
            widget_token_hash: None,
            widget_token_sealed: None,
            mfa: None,
            now,
            deadline: now.plus_millis(60_000),
        }
    }

    const COOLDOWNS: Cooldowns = Cooldowns {
        only_last_millis: 300_000,
        historical_millis: 3_600_000,
    };

    /// A SQLite store in a temporary directory with one organization and `count` links.
    async fn sqlite_with_links(
        count: usize,
    ) -> (
        tempfile::TempDir,
        DatabaseTarget,
        Store,
        OrganizationId,
        Vec<LinkId>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let target = DatabaseTarget::Sqlite(dir.path().join("refresco.db"));
        let store = Store::open(&target, true).await.unwrap();
        assert!(store.group_writer.is_some());
        let organization_id = store
            .create_key_pair(
                "acme",
                &NewKeyPair {
                    mode: Mode::Test,
                    secret_hash: "s".into(),
                    secret_hint: "s".into(),
                    public_hash: "p".into(),
                    public_hint: "p".into(),
                },
            )
            .await
            .unwrap();
        let mut links = Vec::new();
        for _ in 0..count {
            links.push(link(&store, &organization_id).await);
        }
        (dir, target, store, organization_id, links)
    }

    /// A create that fails after its intent row was written (here its job's key is already
    /// taken) is undone alone: no intent, the link untouched, and the create beside it kept.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_create_failing_halfway_leaves_nothing_and_spares_its_batch() {
        let (_dir, _target, store, organization_id, links) = sqlite_with_links(2).await;
        let (failing, kept) = (
            intent(&organization_id, &links[0]),
            intent(&organization_id, &links[1]),
        );
        sqlx::query(
            "PRAGMA foreign_keys = OFF;
             INSERT INTO refresh_jobs (intent_id, state, run_after, updated_at)
             VALUES ($1, 'done', 0, 0);
             PRAGMA foreign_keys = ON;",
        )
        .bind(failing.id.as_str())
        .execute(&store.write)
        .await
        .unwrap();
        let before: String = sqlx::query_scalar("SELECT refresh_status FROM links WHERE id = $1")
            .bind(links[0].as_str())
            .fetch_one(&store.read)
            .await
            .unwrap();
        assert_ne!(before, "refreshing");
        let (failed, created) = tokio::join!(
            store.create_refresh_intent(&failing, COOLDOWNS),
            store.create_refresh_intent(&kept, COOLDOWNS)
        );
        assert!(failed.is_err());
        created.unwrap();
        let failing_rows: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM refresh_intents WHERE id = $1")
                .bind(failing.id.as_str())
                .fetch_one(&store.read)
                .await
                .unwrap();
        assert_eq!(failing_rows, 0, "its intent row was undone");
        let status = |link: &LinkId| {
            let (store, link) = (store.clone(), link.clone());
            async move {
                let status: String =
                    sqlx::query_scalar("SELECT refresh_status FROM links WHERE id = $1")
                        .bind(link.as_str())
                        .fetch_one(&store.read)
                        .await
                        .unwrap();
                status
            }
        };
        assert_eq!(
            status(&links[0]).await,
            before,
            "the failing create's link is untouched"
        );
        assert_eq!(status(&links[1]).await, "refreshing");
        assert!(store
            .refresh_intent_by_id(&kept.id)
            .await
            .unwrap()
            .is_some());
    }

    /// Racing creates on SQLite go through the group writer: per link exactly one is created
    /// and the others are refused alone (their savepoint rolls back, the batch commits), and
    /// every acknowledged create is in the database file after it is closed and reopened.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn racing_creates_commit_in_groups_and_refusals_roll_back_alone() {
        let (_dir, target, store, organization_id, links) = sqlite_with_links(40).await;
        let mut racing = tokio::task::JoinSet::new();
        for _ in 0..3 {
            for link_id in &links {
                let (store, new) = (store.clone(), intent(&organization_id, link_id));
                racing.spawn(async move {
                    store
                        .create_refresh_intent(&new, COOLDOWNS)
                        .await
                        .map(|created| created.id)
                });
            }
        }
        let (mut created, mut in_progress) = (Vec::new(), 0);
        while let Some(outcome) = racing.join_next().await {
            match outcome.unwrap() {
                Ok(id) => created.push(id),
                Err(CreateRefreshError::InProgress) => in_progress += 1,
                Err(e) => panic!("unexpected error: {e}"),
            }
        }
        assert_eq!(created.len(), links.len(), "one intent per link");
        assert_eq!(in_progress, 2 * links.len());

        store.close().await;
        let reopened = Store::open(&target, true).await.unwrap();
        for id in &created {
            let intent = reopened.refresh_intent_by_id(id).await.unwrap();
            assert_eq!(intent.expect("durable").status, IntentStatus::Created);
        }
        assert_eq!(reopened.bench_intents_in_progress().await.unwrap(), 40);
        reopened.close().await;
    }

    /// Recordings that finish together share a group: each is fenced and written in its own
    /// savepoint, so one that fails late (its events clash) and one whose lease was taken
    /// leave no trace, and the others commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn racing_recordings_commit_together_and_a_failing_one_rolls_back_alone() {
        let (_dir, _target, store, organization_id, links) = sqlite_with_links(8).await;
        for link_id in &links {
            let new = intent(&organization_id, link_id);
            store.create_refresh_intent(&new, COOLDOWNS).await.unwrap();
        }
        let jobs = store.claim_jobs("w", "lease", 100, 60_000).await.unwrap();
        assert_eq!(jobs.len(), links.len());
        let mut racing = tokio::task::JoinSet::new();
        for (n, job) in jobs.into_iter().enumerate() {
            let store = store.clone();
            racing.spawn(async move {
                let intent = store
                    .refresh_intent_by_id(&job.intent_id)
                    .await
                    .unwrap()
                    .unwrap();
                let mut job = job;
                if n == 1 {
                    job.lease_token = "taken over".into();
                }
                let outcome = RefreshOutcome::succeeded_without_fetch(None);
                let make_events: EventMaker = Box::new(move |recorded| {
                    let event = NewEvent {
                        id: EventId::generate(),
                        event_type: EventType::LinkRefreshSucceeded,
                        link_id: Some(recorded.link.id.clone()),
                        data: "{}".into(),
                    };
                    // The third fails after writing its intent, results and first event.
                    let copies = if n == 2 { 2 } else { 1 };
                    Ok(vec![event; copies])
                });
                let recorded = store
                    .finish_refresh(&job, &intent.link_id, outcome, make_events)
                    .await;
                (n, job.intent_id, recorded.map(|r| r.is_some()))
            });
        }
        while let Some(joined) = racing.join_next().await {
            let (n, intent_id, recorded) = joined.unwrap();
            let status = store
                .refresh_intent_by_id(&intent_id)
                .await
                .unwrap()
                .unwrap()
                .status;
            match n {
                1 => {
                    assert!(!recorded.unwrap(), "lease lost: nothing recorded");
                    assert_eq!(status, IntentStatus::Created);
                }
                2 => {
                    assert!(recorded.is_err(), "its events clash");
                    assert_eq!(status, IntentStatus::Created, "rolled back alone");
                }
                _ => {
                    assert!(recorded.unwrap(), "recorded");
                    assert_eq!(status, IntentStatus::Succeeded);
                }
            }
        }
        let page = PageRequest {
            page: 1,
            per_page: 300,
        };
        let events = store
            .list_events(&organization_id, Mode::Test, &Default::default(), page)
            .await
            .unwrap();
        assert_eq!(
            events.total,
            links.len() as u64 - 2,
            "one per recorded refresh"
        );
    }
}
