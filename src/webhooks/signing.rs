//! Webhook signatures (pure). Every delivery carries two signatures made with the endpoint's
//! one secret:
//! - Fintoc's `Fintoc-Signature: t=<unix>,v1=<hex>`: HMAC-SHA256 keyed with the whole
//!   `whsec_…` string (its UTF-8 bytes) over `<t>.<raw body>`, exactly that header shape;
//! - Standard Webhooks' `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`:
//!   HMAC-SHA256 keyed with the base64-decoded part after `whsec_`, over
//!   `<id>.<timestamp>.<raw body>`, so Standard Webhooks libraries verify it too.
//!
//! Secrets are `whsec_` + base64 of 32 random bytes, which satisfies both schemes.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

const PREFIX: &str = "whsec_";

/// A new endpoint secret.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{PREFIX}{}", BASE64.encode(bytes))
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key size");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// The `Fintoc-Signature` header value for `body` sent at `timestamp`.
pub fn fintoc_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let t = timestamp.to_string();
    let digest = hmac(secret.as_bytes(), &[t.as_bytes(), b".", body]);
    format!("t={t},v1={}", hex::encode(digest))
}

/// The `webhook-signature` header value (Standard Webhooks) for message `id`.
pub fn standard_signature(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    // A secret that is not base64 after the prefix (never produced here) is used as raw bytes.
    let encoded = secret.strip_prefix(PREFIX).unwrap_or(secret);
    let key = BASE64
        .decode(encoded)
        .unwrap_or_else(|_| encoded.as_bytes().to_vec());
    let t = timestamp.to_string();
    let digest = hmac(&key, &[id.as_bytes(), b".", t.as_bytes(), b".", body]);
    format!("v1,{}", BASE64.encode(digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values computed independently with Python's hmac and hashlib modules.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const BODY: &[u8] = br#"{"id":"evt_1","object":"event"}"#;

    #[test]
    fn fintoc_signature_matches_an_independent_implementation() {
        assert_eq!(
            fintoc_signature(SECRET, 1_743_890_251, BODY),
            "t=1743890251,v1=440270210dc201227bef4f9f8d15c4f1f86ed0501699867c467a34c688881140"
        );
    }

    #[test]
    fn standard_signature_matches_an_independent_implementation() {
        assert_eq!(
            standard_signature(SECRET, "evt_1", 1_743_890_251, BODY),
            "v1,9jWoUNNHLHyZS2hMmbQSSligShUYqiVhZyG6B2lL/w0="
        );
    }

    #[test]
    fn signatures_depend_on_every_input() {
        let base = fintoc_signature(SECRET, 1, BODY);
        assert_ne!(base, fintoc_signature(SECRET, 2, BODY));
        assert_ne!(base, fintoc_signature("whsec_other", 1, BODY));
        assert_ne!(base, fintoc_signature(SECRET, 1, b"{}"));
    }

    #[test]
    fn new_secrets_are_prefixed_base64_of_32_bytes() {
        let secret = new_secret();
        let bytes = BASE64.decode(secret.strip_prefix(PREFIX).unwrap()).unwrap();
        assert_eq!(bytes.len(), 32);
        assert_ne!(secret, new_secret());
    }
}
