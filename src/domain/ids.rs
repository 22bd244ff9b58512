//! Prefixed, typed identifiers (`link_…`, `acc_…`). A `LinkId` can never be passed where an
//! `AccountId` is expected, and every id carries its Fintoc prefix.

use std::fmt;

use crate::crypto::random_token;

/// Length of an id after its prefix (Fintoc's ids have 16).
const ID_BODY_LEN: usize = 16;
/// Leading characters of the body that encode the creation millisecond.
const ID_TIME_LEN: usize = 7;
/// Digits in ASCII order, so ids compare as their times do.
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The body of a new id: 7 base-62 digits of the current Unix time in milliseconds (enough
/// until the year 2081), then 9 random alphanumerics (53 bits; ids made in the same
/// millisecond differ by these).
///
/// Why not all random: every table is keyed by id, and a random key lands each insert on a
/// random page of that key's index, so a refresh's 50 movements dirtied ~50 pages of the
/// movement-id index, all written again to the WAL at every commit. Ids made close in time
/// now sit on the same few pages. Ids are names, never credentials (tokens are separate
/// secrets), and every object's creation time is already visible in the API.
fn id_body() -> String {
    let mut rest = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
    let mut time = [0_u8; ID_TIME_LEN];
    for digit in time.iter_mut().rev() {
        *digit = BASE62[(rest % 62) as usize];
        rest /= 62;
    }
    let mut body: String = time.iter().map(|&b| char::from(b)).collect();
    body.push_str(&random_token(ID_BODY_LEN - ID_TIME_LEN));
    body
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The prefix every id of this kind starts with, including the underscore.
            pub const PREFIX: &'static str = concat!($prefix, "_");

            /// A new id, ordered by creation time (see `id_body`).
            pub fn generate() -> Self {
                Self(format!("{}{}", Self::PREFIX, id_body()))
            }

            /// Accepts a string only if it has this id's prefix and a plain alphanumeric body,
            /// so ids coming from URLs can go straight into queries and log fields.
            pub fn parse(text: &str) -> Option<Self> {
                let body = text.strip_prefix(Self::PREFIX)?;
                let plausible = !body.is_empty()
                    && body.len() <= 64
                    && body.bytes().all(|b| b.is_ascii_alphanumeric());
                plausible.then(|| Self(text.to_owned()))
            }

            /// Wraps a value read back from our own database.
            #[allow(dead_code)]
            pub(crate) fn from_trusted(text: String) -> Self {
                Self(text)
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

typed_id!(
    /// An organization (a tenant): `org_…`.
    OrganizationId,
    "org"
);
typed_id!(
    /// An API key record (never the key itself): `key_…`.
    ApiKeyId,
    "key"
);
typed_id!(
    /// A link: `link_…`.
    LinkId,
    "link"
);
typed_id!(
    /// An account: `acc_…`.
    AccountId,
    "acc"
);
typed_id!(
    /// A movement: `mov_…`.
    MovementId,
    "mov"
);

typed_id!(
    /// A refresh intent (link-level, or the per-account result of one): `ri_…`.
    RefreshIntentId,
    "ri"
);

typed_id!(
    /// A link intent (one attempt to connect a bank through the widget): `li_…`.
    LinkIntentId,
    "li"
);

typed_id!(
    /// An event: `evt_…`.
    EventId,
    "evt"
);
typed_id!(
    /// A webhook endpoint: `we_…`.
    WebhookEndpointId,
    "we"
);
typed_id!(
    /// One delivery of an event to an endpoint: `whd_…`.
    DeliveryId,
    "whd"
);
typed_id!(
    /// One attempt of a delivery: `wha_…`.
    AttemptId,
    "wha"
);

/// An id that can own a secret token `<id><SEPARATOR><secret>`.
pub trait TokenOwner: Clone + fmt::Display + Sized {
    /// What joins the id and the secret.
    const SEPARATOR: &'static str;
    /// Parses the id part.
    fn parse_id(text: &str) -> Option<Self>;
}

impl TokenOwner for LinkId {
    const SEPARATOR: &'static str = "_token_";
    fn parse_id(text: &str) -> Option<Self> {
        LinkId::parse(text)
    }
}

impl TokenOwner for RefreshIntentId {
    const SEPARATOR: &'static str = "_sec_";
    fn parse_id(text: &str) -> Option<Self> {
        RefreshIntentId::parse(text)
    }
}

impl TokenOwner for LinkIntentId {
    const SEPARATOR: &'static str = "_sec_";
    fn parse_id(text: &str) -> Option<Self> {
        LinkIntentId::parse(text)
    }
}

/// The link intent an exchange token belongs to. A separate owner type because one link intent
/// owns two tokens with different separators: its widget token and its exchange token.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ExchangeOf(pub LinkIntentId);

impl fmt::Display for ExchangeOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl TokenOwner for ExchangeOf {
    // Fintoc's current documentation shows `li_…_exc_…` (older pages `li_…_exchange_token_…`).
    const SEPARATOR: &'static str = "_exc_";
    fn parse_id(text: &str) -> Option<Self> {
        LinkIntentId::parse(text).map(ExchangeOf)
    }
}

/// A secret token naming its owner: the id says which object, the secret proves possession.
/// Only its keyed hash is stored.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken<I: TokenOwner> {
    owner: I,
    full: String,
}

/// `link_<id>_token_<secret>`: opens a link's data.
pub type LinkToken = SecretToken<LinkId>;

/// `ri_<id>_sec_<secret>`: lets the widget answer a refresh intent's second factor.
pub type WidgetToken = SecretToken<RefreshIntentId>;

/// `li_<id>_sec_<secret>`: lets the widget connect a bank for a link intent.
pub type LinkWidgetToken = SecretToken<LinkIntentId>;

/// `li_<id>_exc_<secret>`: swaps a succeeded link intent for its link (once, with the secret key).
pub type ExchangeToken = SecretToken<ExchangeOf>;

impl<I: TokenOwner> SecretToken<I> {
    /// A new token for `owner`.
    pub fn generate(owner: &I) -> Self {
        let full = format!("{owner}{}{}", I::SEPARATOR, random_token(24));
        Self {
            owner: owner.clone(),
            full,
        }
    }

    /// Splits a token presented by a client; `None` when it is not shaped like one.
    pub fn parse(text: &str) -> Option<Self> {
        let (id, secret) = text.split_once(I::SEPARATOR)?;
        let owner = I::parse_id(id)?;
        let secret_ok =
            (16..=128).contains(&secret.len()) && secret.bytes().all(|b| b.is_ascii_alphanumeric());
        secret_ok.then(|| Self {
            owner,
            full: text.to_owned(),
        })
    }

    /// The object this token claims to open.
    pub fn owner(&self) -> &I {
        &self.owner
    }

    /// The whole token; only for hashing and for the responses that reveal it.
    pub fn expose(&self) -> &str {
        &self.full
    }
}

impl LinkToken {
    /// The link this token claims to open.
    pub fn link_id(&self) -> &LinkId {
        &self.owner
    }
}

impl<I: TokenOwner> fmt::Debug for SecretToken<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretToken({}{}[redacted])", self.owner, I::SEPARATOR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_and_reject_junk() {
        let id = LinkId::generate();
        assert!(id.as_str().starts_with("link_"));
        assert_eq!(LinkId::parse(id.as_str()), Some(id));
        assert!(LinkId::parse("acc_abc").is_none());
        assert!(LinkId::parse("link_").is_none());
        assert!(LinkId::parse("link_a'b").is_none());
        assert!(AccountId::parse("acc_é").is_none());
    }

    #[test]
    fn ids_sort_by_creation_time_and_still_differ() {
        // Eight ids a few milliseconds apart (random ones would come out in this order once
        // in 40,320 runs).
        let spaced: Vec<MovementId> = (0..8)
            .map(|_| {
                std::thread::sleep(std::time::Duration::from_millis(2));
                MovementId::generate()
            })
            .collect();
        assert!(spaced.windows(2).all(|w| w[0] < w[1]), "{spaced:?}");
        let later = &spaced[7];
        let body = &later.as_str()[MovementId::PREFIX.len()..];
        assert_eq!(body.len(), 16, "as long as Fintoc's");
        assert!(body.bytes().all(|b| b.is_ascii_alphanumeric()));
        // Made in one burst (mostly the same millisecond): all different.
        let burst: std::collections::HashSet<_> =
            (0..10_000).map(|_| MovementId::generate()).collect();
        assert_eq!(burst.len(), 10_000);
    }

    #[test]
    fn link_tokens_parse_and_hide_their_secret() {
        let id = LinkId::generate();
        let token = LinkToken::generate(&id);
        let parsed = LinkToken::parse(token.expose()).unwrap();
        assert_eq!(parsed.link_id(), &id);
        let secret = token.expose().split("_token_").nth(1).unwrap();
        assert!(!format!("{token:?}").contains(secret));
        assert!(LinkToken::parse("link_abc").is_none());
        assert!(LinkToken::parse("link_abc_token_short").is_none());
        assert!(LinkToken::parse(&format!("acc_x_token_{secret}")).is_none());
    }

    #[test]
    fn widget_tokens_name_their_intent() {
        let id = RefreshIntentId::generate();
        let token = WidgetToken::generate(&id);
        assert!(token.expose().starts_with(&format!("{id}_sec_")));
        assert_eq!(WidgetToken::parse(token.expose()).unwrap().owner(), &id);
        assert!(WidgetToken::parse(&token.expose().replace("_sec_", "_token_")).is_none());
    }

    #[test]
    fn link_intent_tokens_do_not_open_each_other() {
        let id = LinkIntentId::generate();
        assert!(id.as_str().starts_with("li_"));
        let widget = LinkWidgetToken::generate(&id);
        let exchange = ExchangeToken::generate(&ExchangeOf(id.clone()));
        assert!(exchange.expose().starts_with(&format!("{id}_exc_")));
        assert_eq!(
            ExchangeToken::parse(exchange.expose()).unwrap().owner().0,
            id
        );
        assert!(ExchangeToken::parse(widget.expose()).is_none());
        assert!(LinkWidgetToken::parse(exchange.expose()).is_none());
        // A refresh intent's widget token is not a link intent's, and the reverse.
        assert!(WidgetToken::parse(widget.expose()).is_none());
        let ri = WidgetToken::generate(&RefreshIntentId::generate());
        assert!(LinkWidgetToken::parse(ri.expose()).is_none());
    }
}
