//! A recording's updates of the movements the bank modified or removed.

use sqlx::AnyConnection;

use crate::domain::ingest::MovementDiff;
use crate::domain::*;
use crate::store::rows::bind_movement_data;

/// Applies each answered account's diff: an update of each modified or removed movement.
/// Returns (counts, changes) per account, in order, and the new movements, which the caller
/// inserts with the accounts' results (see `script::MainWrites`).
pub(super) async fn apply_diffs<'a>(
    conn: &mut AnyConnection,
    diffs: &[(&'a AccountId, &'a MovementDiff)],
    now: i64,
) -> anyhow::Result<Applied<'a>> {
    let mut new = Vec::new();
    let mut applied = Vec::with_capacity(diffs.len());
    for &(account_id, diff) in diffs {
        let mut changes = Vec::new();
        for (id, data) in &diff.modified {
            let query = sqlx::query(
                "UPDATE movements SET amount = $1, currency = $2, description = $3, post_date = $4,
                 transaction_date = $5, movement_type = $6, status = $7, pending = $8,
                 reference_id = $9, comment = $10, sender_account = $11, recipient_account = $12,
                 removed_at = NULL, updated_at = $13
             WHERE id = $14",
            );
            bind_movement_data(query, data)
                .bind(now)
                .bind(id.as_str())
                .execute(&mut *conn)
                .await?;
            changes.push((id.clone(), "modified"));
        }
        for id in &diff.removed {
            sqlx::query("UPDATE movements SET removed_at = $1, updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id.as_str())
                .execute(&mut *conn)
                .await?;
            changes.push((id.clone(), "removed"));
        }
        let counts = RecordedCounts {
            new: i64::try_from(diff.new.len())?,
            modified: i64::try_from(diff.modified.len())?,
            removed: i64::try_from(diff.removed.len())?,
        };
        new.extend(diff.new.iter().map(|movement| (account_id, movement)));
        applied.push((counts, changes));
    }
    Ok(Applied {
        per_account: applied,
        new,
    })
}

/// What [`apply_diffs`] did per account, and the new movements it left to insert.
#[derive(Default)]
pub(super) struct Applied<'a> {
    /// (counts, changes) per answered account, in order.
    pub per_account: Vec<(RecordedCounts, Vec<(MovementId, &'static str)>)>,
    /// The movements to insert, with their account.
    pub new: Vec<(&'a AccountId, &'a MovementData)>,
}
