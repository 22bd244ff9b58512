//! Deterministic pseudo-randomness from SHA-256.
//!
//! The sandbox must give the same data for the same inputs on every machine and every version
//! of our dependencies, so it cannot use `rand`'s generators (whose streams may change between
//! releases) nor the clock. Each value is drawn from SHA-256 of a key naming what is generated
//! (institution, holder, day, account, index) and a counter.

use sha2::{Digest, Sha256};

/// A reproducible stream of numbers keyed by a list of labels.
pub(crate) struct Rng {
    key: [u8; 32],
    counter: u64,
}

impl Rng {
    /// A stream keyed by `parts`. Parts are length-prefixed, so `["ab", "c"]` and `["a", "bc"]`
    /// give different streams.
    pub(crate) fn new(parts: &[&str]) -> Self {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        Rng {
            key: hasher.finalize().into(),
            counter: 0,
        }
    }

    fn block(&mut self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(self.key);
        hasher.update(self.counter.to_le_bytes());
        self.counter += 1;
        hasher.finalize().into()
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        let block = self.block();
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&block[..8]);
        u64::from_le_bytes(bytes)
    }

    /// A number in `lo..=hi`. The modulo bias is below 2^-40 for the ranges used here.
    pub(crate) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        debug_assert!(lo <= hi);
        let span = hi.abs_diff(lo).saturating_add(1);
        lo.wrapping_add_unsigned(self.next_u64() % span)
    }

    /// True with probability `percent`/100.
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// One element of a non-empty slice.
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let len = u64::try_from(items.len()).unwrap_or(u64::MAX);
        // `usize` -> `u64` -> `usize` round-trips because the index is below `items.len()`.
        let index = usize::try_from(self.next_u64() % len).unwrap_or(0);
        &items[index]
    }

    /// `len` decimal digits, the first one not zero (account and document numbers).
    pub(crate) fn digits(&mut self, len: usize) -> String {
        let mut out = String::with_capacity(len);
        for i in 0..len {
            let digit = if i == 0 {
                self.range(1, 9)
            } else {
                self.range(0, 9)
            };
            out.push_str(&digit.to_string());
        }
        out
    }

    /// `bytes` random bytes in lower-case hex (opaque bank ids).
    pub(crate) fn hex(&mut self, bytes: usize) -> String {
        let mut out = Vec::with_capacity(bytes);
        while out.len() < bytes {
            let block = self.block();
            let take = (bytes - out.len()).min(block.len());
            out.extend_from_slice(&block[..take]);
        }
        hex::encode(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_key_same_stream_and_parts_do_not_run_together() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut rng = Rng::new(&["ab", "c"]);
                move |_| rng.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..4)
            .map({
                let mut rng = Rng::new(&["ab", "c"]);
                move |_| rng.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(Rng::new(&["a", "bc"]).next_u64(), a[0]);
    }

    #[test]
    fn helpers_stay_in_range() {
        let mut rng = Rng::new(&["range"]);
        for _ in 0..500 {
            let n = rng.range(-3, 3);
            assert!((-3..=3).contains(&n));
            let digits = rng.digits(10);
            assert_eq!(digits.len(), 10);
            assert!(!digits.starts_with('0'));
        }
        assert_eq!(rng.hex(10).len(), 20);
        assert_eq!(*rng.pick(&[7]), 7);
    }
}
