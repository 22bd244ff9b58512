//! Recording straight on the store: accounts the bank stops listing are marked removed, a new
//! one is added after the others, and the events describe exactly what was written; movements
//! read back exactly as they were recorded.

use refresco::config::Role;
use refresco::domain::*;
use refresco::store::{ClaimedJob, MovementFilter, PageRequest};

use crate::both_backends_and_connector;
use crate::common::*;

/// Movements whose every field is awkward: quotes, backslashes, control characters, non-ASCII
/// text, empty and absent values, the extreme amounts, and many on one day (so the order's
/// tie-break decides). Reads bring pages back as JSON text built by the database, so every
/// value has to survive that encoding on each engine.
fn awkward_movements(today: chrono::NaiveDate) -> Vec<MovementData> {
    let texts = [
        "plain",
        "",
        "quote \" and backslash \\ and slash /",
        "tab\tnew\nline\r\u{1}",
        "Ñuñoa café – 東京 🦀",
        "[1, {\"not\": \"json\"}]",
        "   spaces   ",
    ];
    let counterparty = |n: usize| TransferAccount {
        holder_id: Some(format!("{n}-{}", texts[n % texts.len()])),
        holder_name: (n % 2 == 0).then(|| texts[(n + 3) % texts.len()].to_owned()),
        number: None,
        institution: (n % 3 == 0).then(|| InstitutionRef {
            id: "cl_banco_\"x\"".into(),
            name: texts[4].into(),
            country: "cl".into(),
        }),
    };
    (0..40usize)
        .map(|n| MovementData {
            bank_id: format!("awkward-{n}-{}", texts[n % texts.len()]),
            amount: match n {
                0 => i64::MAX,
                1 => i64::MIN + 1,
                2 => 0,
                _ => (n as i64 - 20) * 1_000_003,
            },
            currency: Currency::parse(if n % 2 == 0 { "CLP" } else { "usd" }).unwrap(),
            description: texts[n % texts.len()].to_owned(),
            // Ten days, four movements each.
            post_date: today - chrono::Days::new((n / 4) as u64),
            transaction_date: (n % 5 != 0)
                .then(|| Timestamp::from_millis(1_700_000_000_123 + n as i64)),
            movement_type: [
                MovementType::Transfer,
                MovementType::Check,
                MovementType::Other,
            ][n % 3],
            status: [
                MovementStatus::Confirmed,
                MovementStatus::Pending,
                MovementStatus::Reversed,
                MovementStatus::Duplicated,
            ][n % 4],
            pending: n % 4 == 1,
            reference_id: (n % 2 == 1).then(|| texts[(n + 1) % texts.len()].to_owned()),
            comment: (n % 3 == 1).then(|| texts[(n + 2) % texts.len()].to_owned()),
            sender_account: (n % 4 == 0).then(|| Box::new(counterparty(n))),
            recipient_account: (n % 4 == 2).then(|| Box::new(counterparty(n + 1))),
        })
        .collect()
}

/// The link's first account, and every movement it lists (of any status, 300 a page).
async fn first_account_movements(
    store: &refresco::store::Store,
    link: &LinkId,
) -> (Account, refresco::store::Paged<Movement>) {
    let page = PageRequest {
        page: 1,
        per_page: 300,
    };
    let account = store
        .list_accounts(link, page)
        .await
        .unwrap()
        .items
        .remove(0);
    let listed = list_all(store, link, &account.id, MovementFilter::default(), 300).await;
    (account, listed)
}

/// Every page of an account's movements, `per_page` at a time, as one list (the total is the
/// last page's `total`).
async fn list_all(
    store: &refresco::store::Store,
    link: &LinkId,
    account: &AccountId,
    filter: MovementFilter,
    per_page: u32,
) -> refresco::store::Paged<Movement> {
    let mut all = refresco::store::Paged {
        items: Vec::new(),
        total: 0,
    };
    for page in 1.. {
        let next = store
            .list_movements(link, account, filter, PageRequest { page, per_page })
            .await
            .unwrap()
            .expect("the link's account");
        all.total = next.total;
        if next.items.is_empty() {
            break;
        }
        all.items.extend(next.items);
    }
    all
}

/// `app` restarted without workers and without a cooldown between refreshes, and a sandbox
/// link (its id and token): the test records the link's refreshes itself, with what it wants
/// the bank to say.
async fn quiet_link(app: TestApp) -> (TestApp, LinkId, String) {
    let backend = app.backend;
    drop(app);
    let app = TestApp::start_with(backend, |c| {
        c.role = Role::Api;
        c.cooldown_only_last_secs = 0;
    })
    .await
    .unwrap();
    let (link, token) = app.create_link("41614850-3").await;
    let link_id = LinkId::parse(link["id"].as_str().unwrap()).unwrap();
    (app, link_id, token)
}

/// A new refresh of the link `token` opens, whose job the test claims.
async fn claim_refresh(app: &TestApp, token: &str) -> ClaimedJob {
    let (status, _) = into_json(
        app.request(
            reqwest::Method::POST,
            "/v1/refresh_intents",
            Some(&app.keys.secret_key),
            Some(serde_json::json!({"link_token": token})),
        )
        .await,
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::CREATED);
    app.state
        .store
        .claim_jobs("t", "lease", 1, 60_000)
        .await
        .unwrap()
        .remove(0)
}

/// `app` restarted without workers, a sandbox link, and a refresh of it whose job the test
/// has claimed.
async fn claimed_refresh(app: TestApp) -> (TestApp, LinkId, ClaimedJob) {
    let (app, link_id, token) = quiet_link(app).await;
    let job = claim_refresh(&app, &token).await;
    (app, link_id, job)
}

/// Records `job` as a success in which the bank answered `account`'s window from `since` to
/// today with `movements`; returns what the recording counted.
async fn record_window(
    app: &TestApp,
    job: &ClaimedJob,
    link_id: &LinkId,
    account: &Account,
    since: chrono::NaiveDate,
    movements: Vec<MovementData>,
) -> RecordedCounts {
    let outcome = RefreshOutcome {
        status: IntentStatus::Succeeded,
        public_error: None,
        failure_reason: None,
        accounts: Some(vec![AccountFetch {
            account: account.data.clone(),
            movements: Ok(FetchedMovements {
                since,
                until: chrono::Utc::now().date_naive(),
                movements,
            }),
        }]),
        credential_status: Some(CredentialStatus::Active),
        finished_at: Timestamp::now(),
        next_refresh: None,
    };
    let keys = app.state.keys.clone();
    let make =
        Box::new(move |r: &RecordedRefresh| refresco::engine::events::refresh_events(&keys, r));
    app.state
        .store
        .finish_refresh(job, link_id, outcome, make)
        .await
        .unwrap()
        .expect("lease held")
}

both_backends_and_connector! {
    async fn accounts_the_bank_adds_and_drops_are_recorded(app: TestApp) {
        let (app, link_id, job) = claimed_refresh(app).await;
        let store = &app.state.store;
        let page = PageRequest { page: 1, per_page: 300 };
        let before = store.list_accounts(&link_id, page).await.unwrap().items;
        assert!(before.len() >= 2, "the sandbox user has several accounts");


        // The bank lists the first account (renamed) and a new one; the others are gone.
        let mut kept = before[0].data.clone();
        kept.name = "Renamed by the bank".into();
        let mut added = before[0].data.clone();
        added.bank_id = "brand-new-account".into();
        added.name = "New account".into();
        let today = chrono::Utc::now().date_naive();
        let fetch = |account: AccountData| AccountFetch {
            account,
            movements: Ok(FetchedMovements { since: today, until: today, movements: Vec::new() }),
        };
        let outcome = RefreshOutcome {
            status: IntentStatus::Succeeded, public_error: None, failure_reason: None,
            accounts: Some(vec![fetch(kept), fetch(added)]),
            credential_status: Some(CredentialStatus::Active), finished_at: Timestamp::now(),
            next_refresh: None,
        };
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (keys, seen_by_maker) = (app.state.keys.clone(), seen.clone());
        let make = Box::new(move |recorded: &RecordedRefresh| {
            seen_by_maker.lock().unwrap().extend(recorded.accounts.iter()
                .map(|a| (a.account.id.to_string(), a.account.data.name.clone())));
            refresco::engine::events::refresh_events(&keys, recorded)
        });
        store.finish_refresh(&job, &link_id, outcome, make).await.unwrap().expect("lease held");

        let after = store.list_accounts(&link_id, page).await.unwrap().items;
        assert_eq!(after.len(), before.len() + 1, "nothing deleted, one added");
        // Order is the bank's first listing, the new account last.
        assert_eq!(after[0].id, before[0].id);
        assert_eq!(after[0].data.name, "Renamed by the bank");
        assert!(!after[0].removed_from_link);
        for (old, now) in before.iter().zip(&after).skip(1) {
            assert_eq!(old.id, now.id);
            assert!(now.removed_from_link, "{} is no longer listed", now.id);
        }
        let new = after.last().unwrap();
        assert_eq!((new.data.bank_id.as_str(), new.removed_from_link), ("brand-new-account", false));

        // The events were made from the accounts as written.
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen, vec![
            (after[0].id.to_string(), "Renamed by the bank".to_owned()),
            (new.id.to_string(), "New account".to_owned()),
        ]);
    }

    async fn movements_read_back_exactly_as_recorded(app: TestApp) {
        let (app, link_id, job) = claimed_refresh(app).await;
        let store = &app.state.store;
        let page = PageRequest { page: 1, per_page: 300 };
        let (account, before) = first_account_movements(store, &link_id).await;
        let every = MovementFilter { since: None, until: None, confirmed_only: false };
        let confirmed = MovementFilter { confirmed_only: true, ..every };
        let before_confirmed = store.list_movements(&link_id, &account.id, confirmed, page).await.unwrap().unwrap().total;
        // Another link's id opens nothing, though the account exists.
        let elsewhere = store.list_movements(&LinkId::generate(), &account.id, every, page).await.unwrap();
        assert!(elsewhere.is_none(), "the account is only listed through its own link");

        let today = chrono::Utc::now().date_naive();
        let recorded = awkward_movements(today);
        // The window is the awkward days: what was stored on them is removed by this fetch.
        let window_start = today - chrono::Days::new(9);
        let mut in_window: Vec<Movement> = before.items.iter()
            .filter(|m| m.data.post_date >= window_start).cloned().collect();
        assert!(!in_window.is_empty(), "the sandbox stored movements in the last ten days");
        let outcome = RefreshOutcome {
            status: IntentStatus::Succeeded, public_error: None, failure_reason: None,
            accounts: Some(vec![AccountFetch {
                account: account.data.clone(),
                movements: Ok(FetchedMovements { since: window_start, until: today,
                    movements: recorded.clone() }),
            }]),
            credential_status: Some(CredentialStatus::Active), finished_at: Timestamp::now(),
            next_refresh: None,
        };
        let removed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (keys, removed_seen) = (app.state.keys.clone(), removed.clone());
        let make = Box::new(move |r: &RecordedRefresh| {
            removed_seen.lock().unwrap().extend(r.accounts[0].removed.iter().cloned());
            refresco::engine::events::refresh_events(&keys, r)
        });
        let counts = store.finish_refresh(&job, &link_id, outcome, make).await.unwrap().expect("lease held");
        assert_eq!((counts.new, counts.removed), (40, in_window.len() as i64));
        // The removed movements, as the events see them, are the stored ones, value for value.
        let mut removed = removed.lock().unwrap().clone();
        removed.sort_by_key(|m| m.id.to_string());
        in_window.sort_by_key(|m| m.id.to_string());
        let pairs = |list: &[Movement]| list.iter().map(|m| (m.id.to_string(), m.data.clone())).collect::<Vec<_>>();
        assert_eq!(pairs(&removed), pairs(&in_window));

        // Everything in pages of 300, then in pages of 7: same movements, same order.
        let all = list_all(store, &link_id, &account.id, every, 300).await;
        assert_eq!(all.total, before.total + 40 - in_window.len() as u64);
        assert!(all.total > 300, "more than one page of 300");
        let paged = list_all(store, &link_id, &account.id, every, 7).await;
        let ids = |list: &[Movement]| list.iter().map(|m| m.id.to_string()).collect::<Vec<_>>();
        assert_eq!(ids(&paged.items), ids(&all.items), "pages tile the list in one order");
        assert_eq!(all.items.len() as u64, all.total);
        let keys: Vec<_> = all.items.iter().map(|m| (m.data.post_date, m.id.to_string())).collect();
        assert!(keys.windows(2).all(|w| w[0].0 > w[1].0 || (w[0].0 == w[1].0 && w[0].1 != w[1].1)),
            "newest day first");

        // Every value as it was recorded, from the list and from a single read.
        for data in &recorded {
            let listed = all.items.iter().find(|m| m.data.bank_id == data.bank_id)
                .unwrap_or_else(|| panic!("{} is listed", data.bank_id));
            assert_eq!(&listed.data, data);
            assert_eq!(listed.account_id, account.id);
            let one = store.movement(&account.id, &listed.id).await.unwrap().expect("readable by id");
            assert_eq!(&one.data, data);
        }
        // The confirmed-only filter and a date window see the same values.
        let listed = list_all(store, &link_id, &account.id, confirmed, 300).await;
        let expected = recorded.iter().filter(|m| m.status == MovementStatus::Confirmed).count()
            + before_confirmed as usize
            - in_window.iter().filter(|m| m.data.status == MovementStatus::Confirmed).count();
        assert_eq!((listed.total as usize, listed.items.len()), (expected, expected));
        assert!(listed.items.iter().all(|m| m.data.status == MovementStatus::Confirmed));
        let window = MovementFilter { since: Some(today - chrono::Days::new(2)), until: Some(today), ..every };
        let listed = store.list_movements(&link_id, &account.id, window, page).await.unwrap().unwrap().items;
        let awkward_in_window: Vec<_> = listed.iter().filter(|m| m.data.bank_id.starts_with("awkward-")).collect();
        assert_eq!(awkward_in_window.len(), 8, "days 1 and 2 of the awkward ones");
    }

    async fn a_movement_the_bank_moves_into_the_window_is_modified_not_duplicated(app: TestApp) {
        // A recording reads only the stored movements it can use (see `apply_movements`):
        // this is the one outside the window that it must still find.
        let (app, link_id, job) = claimed_refresh(app).await;
        let store = &app.state.store;
        let (account, before) = first_account_movements(store, &link_id).await;
        let every = MovementFilter { since: None, until: None, confirmed_only: false };
        let today = chrono::Utc::now().date_naive();
        let window_start = today - chrono::Days::new(9);
        let mut old: Vec<Movement> = before.items.iter()
            .filter(|m| m.data.post_date < window_start).cloned().collect();
        old.sort_by_key(|m| m.data.post_date);
        assert!(old.len() >= 2, "the sandbox stored movements before the window");
        let (moved, untouched) = (&old[0], &old[1]);
        let in_window = before.items.iter().filter(|m| m.data.post_date >= window_start).count();
        // The bank answers for the window with one movement: the oldest stored one, now dated
        // yesterday and for another amount.
        let mut data = moved.data.clone();
        data.post_date = today - chrono::Days::new(1);
        data.amount += 1;
        let counts = record_window(&app, &job, &link_id, &account, window_start, vec![data.clone()]).await;
        assert_eq!(counts, RecordedCounts { new: 0, modified: 1, removed: in_window as i64 });
        let after = list_all(store, &link_id, &account.id, every, 300).await;
        assert_eq!(after.total as usize, before.items.len() - in_window);
        let found = |id: &MovementId| after.items.iter().find(|m| &m.id == id).cloned();
        assert_eq!(found(&moved.id).expect("same movement, same id").data, data);
        assert_eq!(found(&untouched.id).expect("outside the window, kept").data, untouched.data);
        assert_eq!(after.items.iter().filter(|m| m.data.bank_id == data.bank_id).count(), 1);
    }

    // More new movements than one multi-row statement takes (256) are written whole: on
    // SQLite a recording's writes are one script only while each statement fits, and fall
    // back to one statement after another beyond.
    async fn more_new_movements_than_one_statement_takes_are_all_recorded(app: TestApp) {
        let (app, link_id, job) = claimed_refresh(app).await;
        let store = &app.state.store;
        let page = PageRequest { page: 1, per_page: 300 };
        let (account, before) = first_account_movements(store, &link_id).await;
        let every = MovementFilter::default();
        // Another process on the same database has counted the list already: its count of
        // it is stale once this one records (totals are kept per process, by version).
        let other = refresco::open_store(&app.config).await.unwrap();
        let counted_elsewhere = |store: &refresco::store::Store| {
            let store = store.clone();
            let (link_id, account_id) = (link_id.clone(), account.id.clone());
            async move {
                store.list_movements(&link_id, &account_id, every, page).await.unwrap().unwrap().total
            }
        };
        assert_eq!(counted_elsewhere(&other).await, before.total);
        let today = chrono::Utc::now().date_naive();
        let template = awkward_movements(today).remove(3);
        let bulk: Vec<MovementData> = (0..600)
            .map(|n| MovementData { bank_id: format!("bulk-{n}"), amount: n, ..template.clone() })
            .collect();
        let outcome = RefreshOutcome {
            status: IntentStatus::Succeeded, public_error: None, failure_reason: None,
            accounts: Some(vec![AccountFetch {
                account: account.data.clone(),
                // A window of one day long ago: nothing stored is judged removed.
                movements: Ok(FetchedMovements { since: today, until: today, movements: bulk }),
            }]),
            credential_status: Some(CredentialStatus::Active), finished_at: Timestamp::now(),
            next_refresh: None,
        };
        let keys = app.state.keys.clone();
        let make = Box::new(move |r: &RecordedRefresh| refresco::engine::events::refresh_events(&keys, r));
        let counts = store.finish_refresh(&job, &link_id, outcome, make).await.unwrap().expect("lease held");
        assert_eq!(counts.new, 600);
        let after = list_all(store, &link_id, &account.id, every, 300).await;
        let bulk_amounts: std::collections::BTreeSet<i64> = after.items.iter()
            .filter(|m| m.data.bank_id.starts_with("bulk-")).map(|m| m.data.amount).collect();
        assert_eq!(bulk_amounts, (0..600).collect(), "each once, with its own values");
        let removed_before: u64 = before.items.iter().filter(|m| m.data.post_date >= today).count() as u64;
        assert_eq!(after.total, before.total + 600 - removed_before);
        assert_eq!(counted_elsewhere(&other).await, after.total, "counted again elsewhere");
        other.close().await;
        let results = store.account_results(&job.intent_id).await.unwrap();
        let mine = results.iter().find(|r| r.0 == account.id).expect("the account's result");
        assert_eq!((mine.1, mine.3), (IntentStatus::Succeeded, 600));
        let intent = store.refresh_intent_by_id(&job.intent_id).await.unwrap().unwrap();
        assert_eq!((intent.status, intent.new_movements), (IntentStatus::Succeeded, 600));
    }

    // A recording reads the window's stored movements without the removed ones, and finds a
    // removed one only by its bank id when the bank returns it (see `stored_for_diff_sql`).
    async fn a_removed_movement_stays_removed_until_the_bank_returns_it(app: TestApp) {
        let (app, link_id, token) = quiet_link(app).await;
        let store = &app.state.store;
        let (account, before) = first_account_movements(store, &link_id).await;
        let every = MovementFilter { since: None, until: None, confirmed_only: false };
        let since = chrono::Utc::now().date_naive() - chrono::Days::new(9);
        let window: Vec<Movement> = before.items.iter()
            .filter(|m| m.data.post_date >= since).cloned().collect();
        assert!(window.len() >= 2, "the sandbox stored movements in the window");
        let gone = window[0].clone();
        let others: Vec<MovementData> = window[1..].iter().map(|m| m.data.clone()).collect();
        let every_one: Vec<MovementData> = window.iter().map(|m| m.data.clone()).collect();
        let listed = |page: &refresco::store::Paged<Movement>| {
            page.items.iter().filter(|m| m.data.bank_id == gone.data.bank_id).cloned().collect::<Vec<_>>()
        };

        // The bank stops returning one movement of the window: it is removed.
        let job = claim_refresh(&app, &token).await;
        let counts = record_window(&app, &job, &link_id, &account, since, others.clone()).await;
        assert_eq!(counts, RecordedCounts { new: 0, modified: 0, removed: 1 });
        let after = list_all(store, &link_id, &account.id, every, 300).await;
        assert_eq!(after.total as usize, before.items.len() - 1);
        assert!(listed(&after).is_empty(), "the removed movement is not listed");

        // Still not returned: nothing changes, and it is not removed a second time.
        let job = claim_refresh(&app, &token).await;
        let counts = record_window(&app, &job, &link_id, &account, since, others).await;
        assert_eq!(counts, RecordedCounts::default());
        let after = list_all(store, &link_id, &account.id, every, 300).await;
        assert_eq!(after.total as usize, before.items.len() - 1);

        // Returned as it was: the same movement is back (its id kept), not a new one.
        let job = claim_refresh(&app, &token).await;
        let counts = record_window(&app, &job, &link_id, &account, since, every_one).await;
        assert_eq!(counts, RecordedCounts { new: 0, modified: 1, removed: 0 });
        let after = list_all(store, &link_id, &account.id, every, 300).await;
        assert_eq!(after.total as usize, before.items.len());
        let back = listed(&after);
        assert_eq!(back.len(), 1, "exactly one movement with its bank id");
        assert_eq!((&back[0].id, &back[0].data), (&gone.id, &gone.data));
    }
}
