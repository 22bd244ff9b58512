//! Recording straight on the store: accounts the bank stops listing are marked removed, a new
//! one is added after the others, and the events describe exactly what was written.

use refresco::config::Role;
use refresco::domain::*;
use refresco::store::{
    AccountFetch, FetchedMovements, PageRequest, RecordedRefresh, RefreshOutcome,
};

use crate::both_backends;
use crate::common::*;

both_backends! {
    async fn accounts_the_bank_adds_and_drops_are_recorded(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let app = TestApp::start_with(backend, |c| c.role = Role::Api).await.unwrap();
        let (link, token) = app.create_link("41614850-3").await;
        let link_id = LinkId::parse(link["id"].as_str().unwrap()).unwrap();
        let store = &app.state.store;
        let page = PageRequest { page: 1, per_page: 300 };
        let before = store.list_accounts(&link_id, page).await.unwrap().items;
        assert!(before.len() >= 2, "the sandbox user has several accounts");

        let (status, _) = into_json(app.request(reqwest::Method::POST, "/v1/refresh_intents",
            Some(&app.keys.secret_key), Some(serde_json::json!({"link_token": token}))).await).await;
        assert_eq!(status, reqwest::StatusCode::CREATED);
        let job = store.claim_jobs("t", "lease", 1, 60_000).await.unwrap().remove(0);

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
            refresco::api::events::refresh_events(&keys, recorded)
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
}
