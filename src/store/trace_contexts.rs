//! The trace context a refresh intent was created in (see `crate::trace_context`).

use crate::domain::Timestamp;
use crate::store::Store;

impl Store {
    /// Keeps `traceparent` for `intent_id` (written before the intent, so its job always finds
    /// it; an intent whose create is then refused leaves a row nobody reads).
    pub async fn remember_trace_context(
        &self,
        intent_id: &str,
        traceparent: &str,
    ) -> anyhow::Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO refresh_trace_contexts (intent_id, traceparent, created_at)
             VALUES ($1, $2, $3) ON CONFLICT (intent_id) DO NOTHING",
        )
        .bind(intent_id)
        .bind(traceparent)
        .bind(Timestamp::now().millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The `traceparent` kept for `intent_id`, if any.
    pub async fn trace_context(&self, intent_id: &str) -> anyhow::Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT traceparent FROM refresh_trace_contexts WHERE intent_id = $1",
        )
        .bind(intent_id)
        .fetch_optional(&self.read)
        .await?)
    }
}
