//! Tests of the group writer on a real SQLite file: grouped creates, recordings and their
//! savepoints.

use super::super::{NewKeyPair, NewLink, NewRefreshIntent, PageRequest, Store};
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
            first_history: None,
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
        link_token_hash: format!("hash-{link_id}"),
        refresh_type: RefreshType::OnlyLast,
        forced_result: None,
        widget_token_hash: "widget-hash".into(),
        widget_token_sealed: vec![4, 5, 6],
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
        store.create_refresh_intent(&failing, COOLDOWNS, None),
        store.create_refresh_intent(&kept, COOLDOWNS, None)
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
                    .create_refresh_intent(&new, COOLDOWNS, None)
                    .await
                    .map(|created| created.id)
            });
        }
    }
    let (mut created, mut in_progress) = (Vec::new(), 0);
    while let Some(outcome) = racing.join_next().await {
        match outcome.unwrap() {
            Ok(id) => created.push(id),
            Err(CreateIntentError::InProgress(_)) => in_progress += 1,
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
    assert_eq!(reopened.seeding().intents_in_progress().await.unwrap(), 40);
    reopened.close().await;
}

/// Recordings that finish together share a group: each is fenced, and one that fails late (its
/// events clash) has its group rolled back and written again with every recording in its own
/// savepoint, so it and one whose lease was taken leave no trace, and the others commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_recordings_commit_together_and_a_failing_one_rolls_back_alone() {
    let (_dir, _target, store, organization_id, links) = sqlite_with_links(8).await;
    for link_id in &links {
        let new = intent(&organization_id, link_id);
        store
            .create_refresh_intent(&new, COOLDOWNS, None)
            .await
            .unwrap();
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
                    sample: false,
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
    let refreshes = crate::store::EventFilter {
        event_type: Some(EventType::LinkRefreshSucceeded.as_str().to_owned()),
        ..Default::default()
    };
    let events = store
        .list_events(&organization_id, Mode::Test, &refreshes, page)
        .await
        .unwrap();
    assert_eq!(
        events.total,
        links.len() as u64 - 2,
        "one per recorded refresh"
    );
}

/// A claim joins the group queued with it. Here it shares a group with a recording that fails:
/// the group is rolled back and written again with each in a savepoint, and the claim is
/// answered with the jobs it holds once that commits, the recording undone alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_in_a_group_written_again_holds_exactly_the_jobs_it_was_given() {
    let (_dir, _target, store, organization_id, links) = sqlite_with_links(4).await;
    for link_id in &links {
        store
            .create_refresh_intent(&intent(&organization_id, link_id), COOLDOWNS, None)
            .await
            .unwrap();
    }
    let recorded = store.claim_jobs("w", "lease", 1, 60_000).await.unwrap();
    let job = recorded[0].clone();
    let link_id = store
        .refresh_intent_by_id(&job.intent_id)
        .await
        .unwrap()
        .unwrap()
        .link_id;

    // Hold the one write connection: the writer takes the first request below and waits for
    // the connection; the next ones queue behind it and form one group.
    let held = store.write.acquire().await.unwrap();
    let first = tokio::spawn({
        let store = store.clone();
        async move { store.claim_jobs("w", "first", 0, 60_000).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let failing = tokio::spawn({
        let store = store.clone();
        async move {
            let make_events: EventMaker = Box::new(|recorded| {
                let event = NewEvent {
                    id: EventId::generate(),
                    event_type: EventType::LinkRefreshSucceeded,
                    link_id: Some(recorded.link.id.clone()),
                    data: "{}".into(),
                    sample: false,
                };
                Ok(vec![event; 2])
            });
            let outcome = RefreshOutcome::succeeded_without_fetch(None);
            store
                .finish_refresh(&job, &link_id, outcome, make_events)
                .await
        }
    });
    let claim = tokio::spawn({
        let store = store.clone();
        async move { store.claim_jobs("w", "second", 100, 60_000).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    drop(held);

    assert!(first.await.unwrap().unwrap().is_empty());
    assert!(failing.await.unwrap().is_err(), "its events clash");
    let claimed = claim.await.unwrap().unwrap();
    assert_eq!(
        claimed.len(),
        links.len() - 1,
        "every job not claimed before"
    );
    let held_by_second: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM refresh_jobs WHERE lease_token = 'second' AND state = 'running'",
    )
    .fetch_one(&store.read)
    .await
    .unwrap();
    assert_eq!(held_by_second, claimed.len() as i64);
    let recorded_status = store
        .refresh_intent_by_id(&recorded[0].intent_id)
        .await
        .unwrap()
        .unwrap()
        .status;
    assert_eq!(
        recorded_status,
        IntentStatus::Created,
        "the recording undone"
    );
}
