//! Prefixed, typed identifiers (`link_…`, `acc_…`). A `LinkId` can never be passed where an
//! `AccountId` is expected, and every id carries its Fintoc prefix.

use std::fmt;

use crate::crypto::random_token;

/// Length of the random part of an id (Fintoc's ids have 16).
const ID_RANDOM_LEN: usize = 16;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The prefix every id of this kind starts with, including the underscore.
            pub const PREFIX: &'static str = concat!($prefix, "_");

            /// A new random id.
            pub fn generate() -> Self {
                Self(format!("{}{}", Self::PREFIX, random_token(ID_RANDOM_LEN)))
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

/// A secret link token `link_<id>_token_<secret>`: the id names the link, the secret proves
/// possession. Only its keyed hash is stored.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkToken {
    link_id: LinkId,
    full: String,
}

impl LinkToken {
    const SEPARATOR: &'static str = "_token_";

    /// A new token for `link_id`.
    pub fn generate(link_id: &LinkId) -> Self {
        let full = format!("{link_id}{}{}", Self::SEPARATOR, random_token(24));
        Self {
            link_id: link_id.clone(),
            full,
        }
    }

    /// Splits a token presented by a client; `None` when it is not shaped like one.
    pub fn parse(text: &str) -> Option<Self> {
        let (id, secret) = text.split_once(Self::SEPARATOR)?;
        let link_id = LinkId::parse(id)?;
        let secret_ok =
            (16..=128).contains(&secret.len()) && secret.bytes().all(|b| b.is_ascii_alphanumeric());
        secret_ok.then(|| Self {
            link_id,
            full: text.to_owned(),
        })
    }

    /// The link this token claims to open.
    pub fn link_id(&self) -> &LinkId {
        &self.link_id
    }

    /// The whole token; only for hashing and for the single response that reveals it.
    pub fn expose(&self) -> &str {
        &self.full
    }
}

impl fmt::Debug for LinkToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LinkToken({}_token_[redacted])", self.link_id)
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
}
