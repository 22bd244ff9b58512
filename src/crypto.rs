//! Sealing, hashing and token generation. Nothing secret is stored in plaintext:
//! - API keys and link tokens are stored as keyed hashes (HMAC-SHA256 under a key derived from
//!   the master key) and compared in constant time, so a stolen database alone cannot even be
//!   used to test guesses offline;
//! - bank credentials and webhook secrets are sealed with XChaCha20-Poly1305 under the master
//!   key, with the owning row's id as associated data so a sealed value cannot be moved to
//!   another row.

use std::fmt;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::distributions::Alphanumeric;
use rand::{Rng, RngCore};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Version byte in front of every sealed value, so the format can change later.
const SEAL_VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

/// The 32-byte root secret. Never printed; zeroed on drop.
#[derive(Clone)]
pub struct MasterKey {
    bytes: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

/// Why a key or a sealed value could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The configured key is not base64 of 32 bytes.
    #[error("the master key must be base64 of exactly 32 bytes")]
    BadKey,
    /// A sealed value is corrupt, was sealed under another key, or belongs to another row.
    #[error("sealed value cannot be opened (wrong key, wrong owner, or corrupted)")]
    Unseal,
    /// Reading or writing the key file failed.
    #[error("master key file {path}: {source}")]
    Io {
        /// The key file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl MasterKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(bytes.as_mut());
        Self { bytes }
    }

    /// Parses base64 of exactly 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let decoded = Zeroizing::new(
            BASE64
                .decode(text.trim())
                .map_err(|_| CryptoError::BadKey)?,
        );
        let bytes: [u8; 32] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::BadKey)?;
        Ok(Self {
            bytes: Zeroizing::new(bytes),
        })
    }

    /// Base64 form, for writing the key file.
    fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(BASE64.encode(self.bytes.as_ref()))
    }

    /// Loads `path`, or creates it with a new key readable only by the owner.
    pub fn load_or_create(path: &Path) -> Result<Self, CryptoError> {
        let io = |source| CryptoError::Io {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_base64(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                write_owner_only(path, key.to_base64().as_bytes()).map_err(io)?;
                Ok(key)
            }
            Err(e) => Err(io(e)),
        }
    }

    /// A sub-key for one purpose, so hashing and sealing never share key material.
    fn derive(&self, purpose: &str) -> Zeroizing<[u8; 32]> {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(self.bytes.as_ref()).expect("any key size");
        mac.update(purpose.as_bytes());
        Zeroizing::new(mac.finalize().into_bytes().into())
    }

    /// The keyed hash of a token (API key, link token, widget token), as lowercase hex.
    pub fn hash_token(&self, token: &str) -> String {
        let key = self.derive("refresco/token-hash/v1");
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_ref()).expect("any key size");
        mac.update(token.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// A keyed digest of `parts` for one `purpose`, as lowercase hex. Each part is
    /// length-prefixed, so no two lists of parts share a digest; the same parts give the same
    /// digest under one master key and unrelated ones under another.
    pub fn keyed_digest(&self, purpose: &str, parts: &[&[u8]]) -> String {
        let key = self.derive(purpose);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_ref()).expect("any key size");
        for part in parts {
            mac.update(&(part.len() as u64).to_le_bytes());
            mac.update(part);
        }
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether `token` hashes to `stored_hash`, compared in constant time.
    pub fn verify_token(&self, token: &str, stored_hash: &str) -> bool {
        let computed = self.hash_token(token);
        computed.as_bytes().ct_eq(stored_hash.as_bytes()).into()
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        let key = self.derive("refresco/seal/v1");
        XChaCha20Poly1305::new(key.as_ref().into())
    }

    /// Encrypts `plaintext`, bound to `owner` (for example the link id).
    pub fn seal(&self, owner: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: owner.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory buffers");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(SEAL_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Decrypts a value sealed by [`MasterKey::seal`] for the same `owner`.
    pub fn unseal(&self, owner: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != SEAL_VERSION {
            return Err(CryptoError::Unseal);
        }
        let (nonce, ciphertext) = sealed[1..].split_at(NONCE_LEN);
        self.cipher()
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: owner.as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Unseal)
    }
}

/// A random alphanumeric string of `len` characters (about 5.95 bits each: 32 characters carry
/// 190 bits). The generator is `rand`'s thread-local ChaCha12, a CSPRNG seeded from the OS and
/// reseeded periodically: drawing each character from `OsRng` directly cost one `getrandom`
/// system call per character, a visible share of every create (ids and tokens).
pub fn random_token(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

#[cfg(unix)]
fn write_owner_only(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    // create_new: never overwrite a key another process wrote first.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_owner_only(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_tokens_are_alphanumeric_of_the_length_asked_and_do_not_repeat() {
        let tokens: std::collections::HashSet<String> =
            (0..10_000).map(|_| random_token(24)).collect();
        assert_eq!(tokens.len(), 10_000);
        assert!(tokens
            .iter()
            .all(|t| t.len() == 24 && t.chars().all(|c| c.is_ascii_alphanumeric())));
        // Every one of the 62 characters turns up (a broken alphabet or a stuck generator
        // would not).
        let seen: std::collections::HashSet<char> = tokens.iter().flat_map(|t| t.chars()).collect();
        assert_eq!(seen.len(), 62);
    }

    #[test]
    fn seal_round_trips_and_is_bound_to_owner_and_key() {
        let key = MasterKey::generate();
        let sealed = key.seal("link_a", b"jonsnow");
        assert!(!sealed.windows(7).any(|w| w == b"jonsnow"));
        assert_eq!(
            key.unseal("link_a", &sealed).unwrap().as_slice(),
            b"jonsnow"
        );
        assert!(
            key.unseal("link_b", &sealed).is_err(),
            "owner is authenticated"
        );
        assert!(MasterKey::generate().unseal("link_a", &sealed).is_err());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(key.unseal("link_a", &tampered).is_err());
    }

    #[test]
    fn token_hashes_verify_and_depend_on_key() {
        let key = MasterKey::generate();
        let hash = key.hash_token("sk_test_abc");
        assert!(key.verify_token("sk_test_abc", &hash));
        assert!(!key.verify_token("sk_test_abd", &hash));
        assert_ne!(MasterKey::generate().hash_token("sk_test_abc"), hash);
    }

    #[test]
    fn key_file_is_created_owner_only_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/master.key");
        let first = MasterKey::load_or_create(&path).unwrap();
        let again = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(first.hash_token("x"), again.hash_token("x"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{first:?}").contains(&*first.to_base64()));
    }

    #[test]
    fn bad_keys_are_rejected() {
        assert!(MasterKey::from_base64("short").is_err());
        assert!(MasterKey::from_base64(&BASE64.encode([0u8; 31])).is_err());
        assert!(MasterKey::from_base64(&BASE64.encode([7u8; 32])).is_ok());
    }
}
