//! Event types and the rules of webhook subscriptions (pure code).

use super::ids::*;
use super::time::Timestamp;
use super::{Account, Link, Mode};

/// Every event type Refresco emits. Types follow Fintoc's `resource.event` naming.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    /// One account of a refresh was updated (also with 0 new movements).
    AccountRefreshSucceeded,
    /// One account of a refresh could not be updated.
    AccountRefreshFailed,
    /// One account of a refresh failed because the bank rejected the credentials.
    AccountRefreshRejected,
    /// The bank changed movements of an account.
    AccountMovementsModified,
    /// The bank removed movements of an account.
    AccountMovementsRemoved,
    /// The link's credentials stopped working: the holder must reconnect.
    LinkCredentialsChanged,
    /// A whole refresh intent ended: every account was updated.
    LinkRefreshSucceeded,
    /// A whole refresh intent ended without updating every account.
    LinkRefreshFailed,
    /// A whole refresh intent ended because the bank rejected the credentials.
    LinkRefreshRejected,
    /// A link was created (through the API, the CLI or the widget).
    LinkCreated,
}

impl EventType {
    /// Every type, in documentation order.
    pub const ALL: [EventType; 10] = [
        EventType::AccountRefreshSucceeded,
        EventType::AccountRefreshFailed,
        EventType::AccountRefreshRejected,
        EventType::AccountMovementsModified,
        EventType::AccountMovementsRemoved,
        EventType::LinkCredentialsChanged,
        EventType::LinkRefreshSucceeded,
        EventType::LinkRefreshFailed,
        EventType::LinkRefreshRejected,
        EventType::LinkCreated,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::AccountRefreshSucceeded => "account.refresh_intent.succeeded",
            EventType::AccountRefreshFailed => "account.refresh_intent.failed",
            EventType::AccountRefreshRejected => "account.refresh_intent.rejected",
            EventType::AccountMovementsModified => "account.refresh_intent.movements_modified",
            EventType::AccountMovementsRemoved => "account.refresh_intent.movements_removed",
            EventType::LinkCredentialsChanged => "link.credentials_changed",
            EventType::LinkRefreshSucceeded => "link.refresh_intent.succeeded",
            EventType::LinkRefreshFailed => "link.refresh_intent.failed",
            EventType::LinkRefreshRejected => "link.refresh_intent.rejected",
            EventType::LinkCreated => "link.created",
        }
    }

    /// Parses the wire name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// The account-level type for an account's refresh outcome.
    pub fn for_account(status: super::IntentStatus) -> Self {
        match status {
            super::IntentStatus::Rejected => EventType::AccountRefreshRejected,
            super::IntentStatus::Succeeded => EventType::AccountRefreshSucceeded,
            _ => EventType::AccountRefreshFailed,
        }
    }

    /// The link-level type for an intent's final status.
    pub fn for_link(status: super::IntentStatus) -> Self {
        match status {
            super::IntentStatus::Rejected => EventType::LinkRefreshRejected,
            super::IntentStatus::Succeeded => EventType::LinkRefreshSucceeded,
            _ => EventType::LinkRefreshFailed,
        }
    }
}

/// What an endpoint subscribes to: `*` or a list of type names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnabledEvents {
    /// Every type Refresco emits, including types added later.
    All,
    /// These names: types Refresco emits, and other Fintoc products' types (which it never
    /// emits), in the client's order.
    Only(Vec<String>),
}

/// The resources whose events Refresco emits: a name under one of them must be one of
/// [`EventType::ALL`], so that a misspelt type an integration waits for is refused, not
/// silently never delivered.
const OWN_RESOURCES: [&str; 2] = ["account", "link"];

/// Whether `name` is a well-formed type of another Fintoc product (`payment_intent.succeeded`,
/// `subscription.activated`): `resource.event` in lower case, under a resource Refresco does
/// not emit events for. Fintoc's endpoints accept them; Refresco stores and never delivers them.
fn is_other_products_type(name: &str) -> bool {
    let segments: Vec<&str> = name.split('.').collect();
    segments.len() >= 2
        && name.len() <= 100
        && segments
            .iter()
            .all(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        && !OWN_RESOURCES.contains(&segments[0])
}

impl EnabledEvents {
    /// Validates a client's `enabled_events`; the error names the first name refused.
    pub fn parse(list: &[String]) -> Result<Self, String> {
        if list.is_empty() {
            return Err("enabled_events must list at least one event type, or \"*\"".to_owned());
        }
        // Every name is checked, "*" or not: a misspelt type beside "*" is still a mistake.
        let mut names: Vec<String> = Vec::new();
        for name in list.iter().filter(|t| *t != "*") {
            if EventType::parse(name).is_none() && !is_other_products_type(name) {
                return Err(format!("unknown event type {name:?}"));
            }
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        if list.iter().any(|t| t == "*") {
            return Ok(EnabledEvents::All);
        }
        Ok(EnabledEvents::Only(names))
    }

    /// The stored and wire form.
    pub fn names(&self) -> Vec<String> {
        match self {
            EnabledEvents::All => vec!["*".to_owned()],
            EnabledEvents::Only(names) => names.clone(),
        }
    }
}

/// An event to write in the outbox.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// `evt_…`
    pub id: EventId,
    /// Its type.
    pub event_type: EventType,
    /// The link it is about, for filtering.
    pub link_id: Option<LinkId>,
    /// The serialized `data` object.
    pub data: String,
    /// A sample (from `POST /v1/events/trigger` or an endpoint's test), not a change of data.
    pub sample: bool,
}

impl NewEvent {
    /// `link.created`: the link as `GET /v1/links/{token}` shows it, with its accounts. Without
    /// its token, unlike Fintoc's (which sends it only to the widget's own `webhookUrl`): an
    /// event is stored to be listed and resent, and a link token is never stored readable.
    pub fn link_created(link: &Link, accounts: &[Account]) -> serde_json::Result<Self> {
        let data = super::wire::LinkOut::new(link, Some(accounts), None);
        Self::new(EventType::LinkCreated, Some(&link.id), &data)
    }

    /// A new event of `event_type` about `link_id`, with `data` serialized as its `data`.
    pub fn new(
        event_type: EventType,
        link_id: Option<&LinkId>,
        data: &impl serde::Serialize,
    ) -> serde_json::Result<Self> {
        Ok(Self {
            id: EventId::generate(),
            event_type,
            link_id: link_id.cloned(),
            data: serde_json::to_string(data)?,
            sample: false,
        })
    }

    /// A sample event of `event_type` with `data`, about no stored link.
    pub fn sample(event_type: EventType, data: &impl serde::Serialize) -> serde_json::Result<Self> {
        Ok(Self {
            sample: true,
            ..Self::new(event_type, None, data)?
        })
    }
}

/// A stored event.
#[derive(Clone, Debug)]
pub struct Event {
    /// `evt_…`
    pub id: EventId,
    /// Owner.
    pub organization_id: OrganizationId,
    /// Mode.
    pub mode: Mode,
    /// The wire type name (kept as text so old rows stay readable if a type is retired).
    pub event_type: String,
    /// The link it is about.
    pub link_id: Option<LinkId>,
    /// The serialized `data` object.
    pub data: String,
    /// When the change happened.
    pub created_at: Timestamp,
    /// A sample, not a change of data.
    pub sample: bool,
}

/// How long to wait before retry number `retry` (1-based): exponential from `base_millis`,
/// capped, with `jitter` in [0, 1) spreading retries of many deliveries (±20%).
pub fn backoff_millis(retry: u32, base_millis: i64, cap_millis: i64, jitter: f64) -> i64 {
    let exp = base_millis.saturating_mul(1_i64 << retry.saturating_sub(1).min(40));
    let capped = exp.min(cap_millis).max(1);
    let factor = 0.8 + 0.4 * jitter.clamp(0.0, 1.0);
    ((capped as f64) * factor) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
        assert_eq!(EventType::parse("payment_intent.succeeded"), None);
    }

    #[test]
    fn enabled_events_validate() {
        assert_eq!(
            EnabledEvents::parse(&["*".into()]).unwrap(),
            EnabledEvents::All
        );
        let only = EnabledEvents::parse(&[
            "link.credentials_changed".into(),
            "link.credentials_changed".into(),
        ])
        .unwrap();
        assert_eq!(only.names(), vec!["link.credentials_changed"]);
        // Fintoc's own example, and another product's types.
        let fintoc = [
            "link.created",
            "link.credentials_changed",
            "payment_intent.succeeded",
        ];
        let names: Vec<String> = fintoc.map(String::from).to_vec();
        assert_eq!(EnabledEvents::parse(&names).unwrap().names(), names);
        for refused in [
            "account.nope",
            "link.refresh_intent.succeded",
            "Payment_intent.succeeded",
            "payment_intent",
            "payment_intent..succeeded",
            "payment intent.succeeded",
        ] {
            let err = EnabledEvents::parse(&[refused.into()]).unwrap_err();
            assert!(err.contains(refused), "{err}");
        }
        assert!(EnabledEvents::parse(&[]).is_err());
        assert!(EnabledEvents::parse(&["*".into(), "account.nope".into()]).is_err());
    }

    #[test]
    fn backoff_grows_exponentially_with_bounded_jitter() {
        assert_eq!(backoff_millis(1, 3000, 3_600_000, 0.5), 3000);
        assert_eq!(backoff_millis(2, 3000, 3_600_000, 0.5), 6000);
        assert_eq!(backoff_millis(5, 3000, 3_600_000, 0.5), 48_000);
        assert_eq!(
            backoff_millis(30, 3000, 3_600_000, 0.5),
            3_600_000,
            "capped"
        );
        assert_eq!(backoff_millis(1, 3000, 3_600_000, 0.0), 2400);
        assert_eq!(backoff_millis(1, 3000, 3_600_000, 0.999_999), 3599);
    }
}

/// A webhook endpoint.
#[derive(Clone, Debug)]
pub struct WebhookEndpoint {
    /// `we_…`
    pub id: WebhookEndpointId,
    /// Owner.
    pub organization_id: OrganizationId,
    /// Mode.
    pub mode: Mode,
    /// Where events are POSTed.
    pub url: String,
    /// Free text.
    pub description: Option<String>,
    /// What it receives.
    pub enabled_events: EnabledEvents,
    /// Disabled by the client, by a `410 Gone`, or after failing too long.
    pub disabled: bool,
    /// Why it was disabled: `client`, `gone` or `failing`.
    pub disabled_reason: Option<String>,
    /// Creation time.
    pub created_at: Timestamp,
}

/// One recorded attempt of a delivery.
#[derive(Clone, Debug)]
pub struct Attempt {
    /// `wha_…`
    pub id: AttemptId,
    /// Its delivery.
    pub delivery_id: DeliveryId,
    /// The endpoint.
    pub endpoint_id: WebhookEndpointId,
    /// The event.
    pub event_id: EventId,
    /// When it was made.
    pub attempted_at: Timestamp,
    /// The receiver's status code, when it answered.
    pub status_code: Option<u16>,
    /// How long it took.
    pub latency_ms: i64,
    /// The start of the receiver's answer.
    pub response_body: Option<String>,
    /// Why it failed without an answer (timeout, refused, blocked address).
    pub error: Option<String>,
    /// Whether it counted as delivered.
    pub succeeded: bool,
}
