//! The events a recorded refresh emits, made from what the recording committed (inside its
//! transaction, so a change and its events commit together).

use serde_json::json;

use crate::crypto::MasterKey;
use crate::domain::wire::{LinkOut, MovementOut, RefreshIntentOut};
use crate::domain::RecordedRefresh;
use crate::domain::*;

/// The events of a recorded refresh: per account its outcome (and its modified and removed
/// movements), `link.credentials_changed` when the credentials stopped working, and last the
/// link-level outcome, which tells a client the refresh is over.
pub fn refresh_events(
    keys: &MasterKey,
    recorded: &RecordedRefresh,
) -> anyhow::Result<Vec<NewEvent>> {
    let intent = &recorded.intent;
    let link_id = Some(&recorded.link.id);
    let mut events = Vec::new();
    for account in &recorded.accounts {
        let data = json!({
            "id": account.result_id.as_str(),
            "object": "refresh_intent",
            "refreshed_object": "account",
            "refreshed_object_id": account.account.id.as_str(),
            "status": account.status.as_str(),
            "public_error": account.public_error.map(PublicError::as_str),
            "created_at": intent.created_at.to_wire(),
            "type": intent.refresh_type.as_str(),
            "new_movements": account.new_movements,
            // Our addition: the link-level intent this account result belongs to.
            "refresh_intent_id": intent.id.as_str(),
        });
        events.push(NewEvent::new(
            EventType::for_account(account.status),
            link_id,
            &data,
        )?);
        for (event_type, key, movements) in [
            (
                EventType::AccountMovementsModified,
                "movements_changed",
                &account.modified,
            ),
            (
                EventType::AccountMovementsRemoved,
                "movements_removed",
                &account.removed,
            ),
        ] {
            if movements.is_empty() {
                continue;
            }
            let list: Vec<MovementOut> = movements.iter().map(MovementOut::from).collect();
            let data = json!({
                "account_id": account.account.id.as_str(),
                key: list,
                "refresh_intent_id": intent.id.as_str(),
            });
            events.push(NewEvent::new(event_type, link_id, &data)?);
        }
    }
    if recorded.credentials_changed {
        let data = LinkOut::new(&recorded.link, None, None);
        events.push(NewEvent::new(
            EventType::LinkCredentialsChanged,
            link_id,
            &data,
        )?);
    }
    let data = RefreshIntentOut::new(keys, intent);
    events.push(NewEvent::new(
        EventType::for_link(intent.status),
        link_id,
        &data,
    )?);
    Ok(events)
}
