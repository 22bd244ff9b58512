//! Link intents: creation, the widget's login bookkeeping (refused logins, a parked second
//! factor), completion together with the new link in one transaction, and the single exchange.
//!
//! Every state change is one conditional `UPDATE … WHERE status = 'created' AND expires_at > now`
//! (or `exchanged_at IS NULL` for the exchange), so whatever races (a double click, two tabs),
//! the database admits one winner and a used or expired token changes nothing.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::rows::get_time;
use super::{NewLink, Store};
use crate::domain::*;

/// A link intent to create.
#[derive(Debug)]
pub struct NewLinkIntent {
    /// Its id (also inside both tokens).
    pub id: LinkIntentId,
    /// Owner.
    pub organization_id: OrganizationId,
    /// Mode.
    pub mode: Mode,
    /// Always `movements`.
    pub product: String,
    /// Lowercase ISO country.
    pub country: String,
    /// Individual or business.
    pub holder_type: HolderType,
    /// The link to reconnect, for an intent that reconnects one.
    pub reconnect_link_id: Option<LinkId>,
    /// Keyed hash of the widget token.
    pub widget_token_hash: String,
    /// Keyed hash of the exchange token.
    pub exchange_token_hash: String,
    /// The exchange token sealed under the master key, bound to the intent id (the widget
    /// hands it to `onSuccess`).
    pub exchange_token_sealed: Vec<u8>,
    /// Creation time.
    pub now: Timestamp,
    /// When both tokens stop working.
    pub expires_at: Timestamp,
}

/// How [`Store::reconnect_link_for_intent`] ended.
#[derive(Debug, PartialEq, Eq)]
pub enum IntentReconnection {
    /// The link has its new credentials and the intent succeeded.
    Done,
    /// The intent was no longer open (another request finished it, or it expired): nothing
    /// changed.
    IntentClosed,
    /// The link was deleted before the widget finished: nothing changed.
    LinkGone,
}

/// What only the engine may see of a link intent: token hashes and sealed values.
#[derive(Debug)]
pub struct LinkIntentSecrets {
    /// Keyed hash of the widget token.
    pub widget_token_hash: String,
    /// Keyed hash of the exchange token.
    pub exchange_token_hash: String,
    /// The exchange token, sealed.
    pub exchange_token_sealed: Vec<u8>,
    /// The credentials and the bank's challenge, sealed, while a second factor is pending.
    pub pending_login: Option<Vec<u8>>,
}

/// A second factor to park on a link intent.
#[derive(Debug)]
pub struct ParkedLogin<'a> {
    /// The bank.
    pub institution_id: &'a str,
    /// How the person answers.
    pub method: MfaMethod,
    /// What the bank says to the person.
    pub hint: Option<&'a str>,
    /// Credentials and challenge, sealed together.
    pub sealed: &'a [u8],
    /// When the challenge stops being accepted.
    pub expires_at: Timestamp,
}

const COLUMNS: &str = "id, organization_id, mode, product, country, holder_type, status, \
    expires_at, login_attempts, institution_id, mfa_kind, mfa_hint, mfa_expires_at, \
    mfa_attempts, link_id, reconnect_link_id, exchanged_at, created_at";

fn intent_from_row(row: &AnyRow) -> anyhow::Result<LinkIntent> {
    let text = |col: &str| -> anyhow::Result<String> { Ok(row.try_get::<String, _>(col)?) };
    let bad = |what: &str| anyhow::anyhow!("stored link intent has a bad {what}");
    let method: Option<String> = row.try_get("mfa_kind")?;
    let pending_mfa = match (
        method.as_deref().and_then(MfaMethod::parse),
        row.try_get::<Option<String>, _>("institution_id")?,
    ) {
        (Some(method), Some(institution_id)) => Some(PendingMfa {
            institution_id,
            method,
            hint: row.try_get("mfa_hint")?,
            expires_at: get_time(row, "mfa_expires_at")?.ok_or_else(|| bad("mfa_expires_at"))?,
            attempts: row.try_get("mfa_attempts")?,
        }),
        _ => None,
    };
    Ok(LinkIntent {
        id: LinkIntentId::from_trusted(text("id")?),
        organization_id: OrganizationId::from_trusted(text("organization_id")?),
        mode: Mode::parse(&text("mode")?).ok_or_else(|| bad("mode"))?,
        product: text("product")?,
        country: text("country")?,
        holder_type: HolderType::parse(&text("holder_type")?).ok_or_else(|| bad("holder_type"))?,
        status: LinkIntentStatus::parse(&text("status")?).ok_or_else(|| bad("status"))?,
        expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
        login_attempts: row.try_get("login_attempts")?,
        pending_mfa,
        link_id: row
            .try_get::<Option<String>, _>("link_id")?
            .map(LinkId::from_trusted),
        reconnect_link_id: row
            .try_get::<Option<String>, _>("reconnect_link_id")?
            .map(LinkId::from_trusted),
        exchanged_at: get_time(row, "exchanged_at")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
    })
}

impl Store {
    /// Stores a new link intent.
    #[tracing::instrument(skip_all, fields(link_intent_id = %new.id))]
    pub async fn create_link_intent(&self, new: &NewLinkIntent) -> anyhow::Result<LinkIntent> {
        sqlx::query(
            "INSERT INTO link_intents (id, organization_id, mode, product, country, holder_type,
                status, widget_token_hash, exchange_token_hash, exchange_token_sealed, expires_at,
                created_at, reconnect_link_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(new.id.as_str())
        .bind(new.organization_id.as_str())
        .bind(new.mode.as_str())
        .bind(&new.product)
        .bind(&new.country)
        .bind(new.holder_type.as_str())
        .bind(LinkIntentStatus::Created.as_str())
        .bind(&new.widget_token_hash)
        .bind(&new.exchange_token_hash)
        .bind(new.exchange_token_sealed.clone())
        .bind(new.expires_at.millis())
        .bind(new.now.millis())
        .bind(new.reconnect_link_id.as_ref().map(LinkId::as_str))
        .execute(&self.write)
        .await?;
        self.link_intent(&new.id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("link intent vanished after insert"))
    }

    /// A link intent by id, whoever owns it (callers check the owner against the key).
    pub async fn link_intent(&self, id: &LinkIntentId) -> anyhow::Result<Option<LinkIntent>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM link_intents WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(intent_from_row).transpose()
    }

    /// The token hashes and sealed values of a link intent.
    pub async fn link_intent_secrets(
        &self,
        id: &LinkIntentId,
    ) -> anyhow::Result<Option<LinkIntentSecrets>> {
        let row = sqlx::query(
            "SELECT widget_token_hash, exchange_token_hash, exchange_token_sealed, pending_login
             FROM link_intents WHERE id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| {
            Ok(LinkIntentSecrets {
                widget_token_hash: r.try_get("widget_token_hash")?,
                exchange_token_hash: r.try_get("exchange_token_hash")?,
                exchange_token_sealed: r.try_get("exchange_token_sealed")?,
                pending_login: r.try_get("pending_login")?,
            })
        })
        .transpose()
    }

    /// Counts a login the bank refused; at `max` the intent fails. Returns the attempts so far,
    /// or `None` when the intent is no longer open.
    pub async fn record_refused_login(
        &self,
        id: &LinkIntentId,
        max: i64,
    ) -> anyhow::Result<Option<i64>> {
        let attempts = sqlx::query_scalar(
            "UPDATE link_intents SET login_attempts = login_attempts + 1,
                 status = CASE WHEN login_attempts + 1 >= $2 THEN 'failed' ELSE status END,
                 institution_id = NULL, mfa_kind = NULL, mfa_hint = NULL, pending_login = NULL,
                 mfa_expires_at = NULL, mfa_attempts = 0
             WHERE id = $1 AND status = 'created' AND expires_at > $3
             RETURNING login_attempts",
        )
        .bind(id.as_str())
        .bind(max)
        .bind(Timestamp::now().millis())
        .fetch_optional(&self.write)
        .await?;
        Ok(attempts)
    }

    /// Parks the bank's second factor on an open intent (replacing any earlier one); counts
    /// as a login attempt. False when the intent is no longer open.
    pub async fn park_link_login(
        &self,
        id: &LinkIntentId,
        parked: &ParkedLogin<'_>,
    ) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "UPDATE link_intents SET login_attempts = login_attempts + 1, institution_id = $1,
                 mfa_kind = $2, mfa_hint = $3, pending_login = $4, mfa_expires_at = $5,
                 mfa_attempts = 0
             WHERE id = $6 AND status = 'created' AND expires_at > $7",
        )
        .bind(parked.institution_id)
        .bind(parked.method.as_str())
        .bind(parked.hint)
        .bind(parked.sealed.to_vec())
        .bind(parked.expires_at.millis())
        .bind(id.as_str())
        .bind(Timestamp::now().millis())
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Counts a wrong answer to the parked second factor; at `max` the challenge is dropped
    /// (the person logs in again). Returns the wrong answers so far, `None` when nothing is
    /// parked any more.
    pub async fn record_wrong_link_mfa(
        &self,
        id: &LinkIntentId,
        max: i64,
    ) -> anyhow::Result<Option<i64>> {
        let attempts: Option<i64> = sqlx::query_scalar(
            "UPDATE link_intents SET mfa_attempts = mfa_attempts + 1
             WHERE id = $1 AND status = 'created' AND pending_login IS NOT NULL
             RETURNING mfa_attempts",
        )
        .bind(id.as_str())
        .fetch_optional(&self.write)
        .await?;
        if attempts.is_some_and(|n| n >= max) {
            self.drop_link_mfa(id).await?;
        }
        Ok(attempts)
    }

    /// Forgets a parked second factor (used up or expired).
    pub async fn drop_link_mfa(&self, id: &LinkIntentId) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE link_intents SET institution_id = NULL, mfa_kind = NULL, mfa_hint = NULL,
                 pending_login = NULL, mfa_expires_at = NULL, mfa_attempts = 0
             WHERE id = $1 AND status = 'created'",
        )
        .bind(id.as_str())
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Creates the link and marks the intent succeeded in one transaction, keeping the link's
    /// token sealed for the exchange. `None` (and no link) when the intent was no longer open:
    /// another request completed it first, or it expired.
    #[tracing::instrument(skip_all, fields(link_intent_id = %intent_id, link_id = %new.id))]
    pub async fn create_link_for_intent(
        &self,
        intent_id: &LinkIntentId,
        new: &NewLink,
        sealed_link_token: &[u8],
    ) -> anyhow::Result<Option<(Link, Vec<Account>)>> {
        let mut tx = self.begin().await?;
        if !Self::claim_success(&mut tx, intent_id).await? {
            return Ok(None);
        }
        let created = Self::insert_link(&mut tx, new).await?;
        // After the link row exists: the foreign key is checked at once on both engines.
        sqlx::query("UPDATE link_intents SET link_id = $1, link_token_sealed = $2 WHERE id = $3")
            .bind(new.id.as_str())
            .bind(sealed_link_token.to_vec())
            .bind(intent_id.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(created))
    }

    /// Gives the intent's link its new credentials and marks the intent succeeded, in one
    /// transaction: no new link, no new accounts.
    #[tracing::instrument(skip_all, fields(link_intent_id = %intent_id, link_id = %link_id))]
    pub async fn reconnect_link_for_intent(
        &self,
        intent_id: &LinkIntentId,
        link_id: &LinkId,
        sealed_credentials: &[u8],
        login_mfa: Option<MfaMethod>,
    ) -> anyhow::Result<IntentReconnection> {
        let mut tx = self.begin().await?;
        if !Self::claim_success(&mut tx, intent_id).await? {
            return Ok(IntentReconnection::IntentClosed);
        }
        if !Self::replace_credentials(&mut *tx, link_id, sealed_credentials, login_mfa).await? {
            return Ok(IntentReconnection::LinkGone);
        }
        sqlx::query("UPDATE link_intents SET link_id = $1 WHERE id = $2")
            .bind(link_id.as_str())
            .bind(intent_id.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(IntentReconnection::Done)
    }

    /// Marks an open intent succeeded inside `tx`. Claimed first, so a loser of a race does no
    /// work: on PostgreSQL a racing transaction waits on this row and then finds it no longer
    /// open. False when it was not open.
    async fn claim_success(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        intent_id: &LinkIntentId,
    ) -> anyhow::Result<bool> {
        let claimed = sqlx::query(
            "UPDATE link_intents SET status = 'succeeded', institution_id = NULL, mfa_kind = NULL,
                 mfa_hint = NULL, pending_login = NULL, mfa_expires_at = NULL
             WHERE id = $1 AND status = 'created' AND expires_at > $2",
        )
        .bind(intent_id.as_str())
        .bind(Timestamp::now().millis())
        .execute(&mut **tx)
        .await?;
        Ok(claimed.rows_affected() == 1)
    }

    /// Uses a succeeded intent's exchange once: marks it exchanged and hands back the link id
    /// and the sealed link token (which is forgotten; a reconnection has none: the client
    /// already holds the token). `None` when it is not succeeded, was already exchanged or
    /// expired.
    pub async fn exchange_link_intent(
        &self,
        id: &LinkIntentId,
    ) -> anyhow::Result<Option<(LinkId, Option<Vec<u8>>)>> {
        let now = Timestamp::now().millis();
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "SELECT link_id, link_token_sealed FROM link_intents
             WHERE id = $1 AND status = 'succeeded' AND exchanged_at IS NULL AND expires_at > $2
               AND link_id IS NOT NULL
               AND (link_token_sealed IS NOT NULL OR reconnect_link_id IS NOT NULL)",
        )
        .bind(id.as_str())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let used = sqlx::query(
            "UPDATE link_intents SET exchanged_at = $1, link_token_sealed = NULL
             WHERE id = $2 AND exchanged_at IS NULL",
        )
        .bind(now)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        if used.rows_affected() != 1 {
            return Ok(None);
        }
        let link_id = LinkId::from_trusted(row.try_get("link_id")?);
        let sealed: Option<Vec<u8>> = row.try_get("link_token_sealed")?;
        tx.commit().await?;
        Ok(Some((link_id, sealed)))
    }
}
