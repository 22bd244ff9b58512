//! Link intents: one person's attempt to connect a bank through the widget, from its creation
//! (secret key) through the widget's login and second factor (public key + widget token) to the
//! exchange of its exchange token for the new link (secret key, once).

use super::ids::*;
use super::model::{HolderType, Mode};
use super::refresh::MfaMethod;
use super::time::Timestamp;

/// The only product a link intent can be for (Fintoc also has others, which Refresco lacks).
pub const PRODUCT_MOVEMENTS: &str = "movements";

/// Where a link intent is, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkIntentStatus {
    /// Waiting for the person to log in through the widget.
    Created,
    /// A link was created; its exchange token can be swapped for it once.
    Succeeded,
    /// Too many refused logins: the person must start again with a new link intent.
    Failed,
}

impl LinkIntentStatus {
    /// Storage (and wire) name.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkIntentStatus::Created => "created",
            LinkIntentStatus::Succeeded => "succeeded",
            LinkIntentStatus::Failed => "failed",
        }
    }

    /// Parses the storage name.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Created, Self::Succeeded, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// A second factor the bank asked for during a widget login, waiting for the person's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingMfa {
    /// The bank being logged in to.
    pub institution_id: String,
    /// How the person answers.
    pub method: MfaMethod,
    /// What the bank says to the person (for example the masked phone number).
    pub hint: Option<String>,
    /// When the challenge stops being accepted.
    pub expires_at: Timestamp,
    /// Wrong answers so far.
    pub attempts: i64,
}

/// A stored link intent (its tokens and sealed values stay in the store).
#[derive(Clone, Debug)]
pub struct LinkIntent {
    /// `li_…`
    pub id: LinkIntentId,
    /// Owner.
    pub organization_id: OrganizationId,
    /// Mode of the key that created it.
    pub mode: Mode,
    /// Always [`PRODUCT_MOVEMENTS`].
    pub product: String,
    /// Lowercase ISO country whose banks the widget offers (`cl`, `mx`).
    pub country: String,
    /// Individual or business.
    pub holder_type: HolderType,
    /// Stored status.
    pub status: LinkIntentStatus,
    /// When the widget token and the exchange token stop working.
    pub expires_at: Timestamp,
    /// Logins that the bank refused or that asked for a second factor.
    pub login_attempts: i64,
    /// The second factor the bank waits for, if any.
    pub pending_mfa: Option<PendingMfa>,
    /// The link the widget created or reconnected, once succeeded.
    pub link_id: Option<LinkId>,
    /// The link this intent reconnects (new credentials for an existing link), if it is a
    /// reconnection; `None` for an intent that creates a link.
    pub reconnect_link_id: Option<LinkId>,
    /// When the exchange token was used.
    pub exchanged_at: Option<Timestamp>,
    /// Creation time.
    pub created_at: Timestamp,
}

impl LinkIntent {
    /// Whether its tokens stopped working at `now`.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        now >= self.expires_at
    }

    /// The wire `status`: the stored one, except that an unfinished intent past its expiry is
    /// `expired` (Fintoc documents no status list; this is what a caller would want to know).
    pub fn wire_status(&self, now: Timestamp) -> &'static str {
        match self.status {
            LinkIntentStatus::Created if self.is_expired(now) => "expired",
            status => status.as_str(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(status: LinkIntentStatus, expires_at: i64) -> LinkIntent {
        LinkIntent {
            id: LinkIntentId::generate(),
            organization_id: OrganizationId::generate(),
            mode: Mode::Test,
            product: PRODUCT_MOVEMENTS.to_owned(),
            country: "cl".to_owned(),
            holder_type: HolderType::Individual,
            status,
            expires_at: Timestamp::from_millis(expires_at),
            login_attempts: 0,
            pending_mfa: None,
            link_id: None,
            reconnect_link_id: None,
            exchanged_at: None,
            created_at: Timestamp::from_millis(0),
        }
    }

    #[test]
    fn only_unfinished_intents_expire_on_the_wire() {
        let now = Timestamp::from_millis(10);
        assert_eq!(
            intent(LinkIntentStatus::Created, 5).wire_status(now),
            "expired"
        );
        assert_eq!(
            intent(LinkIntentStatus::Created, 50).wire_status(now),
            "created"
        );
        assert_eq!(
            intent(LinkIntentStatus::Succeeded, 5).wire_status(now),
            "succeeded"
        );
        for status in [
            LinkIntentStatus::Created,
            LinkIntentStatus::Succeeded,
            LinkIntentStatus::Failed,
        ] {
            assert_eq!(LinkIntentStatus::parse(status.as_str()), Some(status));
        }
    }
}
