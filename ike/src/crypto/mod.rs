//! The IKEv2 crypto suite: PRFs and prf+ ([`prf`]), integrity ([`integ`]), SK ciphers
//! ([`encr`]), Diffie-Hellman groups ([`dh`]) and the key derivations ([`keys`]).
//!
//! Every key and key-derived value lives in a zeroizing type ([`Secret`] or a struct that
//! zeroizes on drop) whose `Debug` prints lengths, never bytes. Nothing here draws randomness:
//! callers pass an RNG (`rand_core::CryptoRngCore`) or the random bytes (IVs) in.

pub mod dh;
pub mod encr;
pub mod hash;
pub mod integ;
pub mod keys;
pub mod prf;

use core::fmt;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Secret bytes: zeroized on drop, redacted in `Debug`, compared in constant time.
#[derive(Clone, Default, Zeroize, ZeroizeOnDrop)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Secret {
        Secret(bytes)
    }

    pub fn from_slice(bytes: &[u8]) -> Secret {
        Secret(bytes.to_vec())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Constant-time equality (length is not secret).
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        self.0.len() == other.len() && bool::from(self.0.as_slice().ct_eq(other))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

/// Crypto failures. Integrity and decryption failures are deliberately not told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptoError {
    /// The transform is not implemented here.
    Unsupported,
    /// A weak group (MODP 1024 / 1536) without `allow_weak`.
    WeakGroup,
    /// The peer's KE data has the wrong length for its group.
    KeLength,
    /// The peer's public value is out of range / not on the curve / of low order.
    InvalidPublicValue,
    /// A key, IV or buffer of the wrong length.
    BadLength,
    /// prf+ asked for more than 255 blocks.
    PrfPlusTooLong,
    /// ICV / tag mismatch, or bad padding after decryption.
    AuthenticationFailed,
}

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for CryptoError {}

#[cfg(test)]
pub(crate) mod test_rng {
    use rand_core::{CryptoRng, RngCore};

    /// Deterministic RNG for tests (splitmix64). Not for production use.
    pub struct TestRng(pub u64);

    impl RngCore for TestRng {
        fn next_u32(&mut self) -> u32 {
            self.next_u64() as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for c in dest.chunks_mut(8) {
                let v = self.next_u64().to_le_bytes();
                c.copy_from_slice(&v[..c.len()]);
            }
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }

    impl CryptoRng for TestRng {}
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn secret_debug_is_redacted_and_eq_is_by_value() {
        let s = Secret::new(vec![0xab, 0xcd, 0xef]);
        let d = format!("{s:?}");
        assert_eq!(d, "Secret(3 bytes)");
        assert!(!d.contains("ab") && !d.contains("171"));
        assert!(s.ct_eq(&[0xab, 0xcd, 0xef]));
        assert!(!s.ct_eq(&[0xab, 0xcd]));
        assert!(!s.ct_eq(&[0xab, 0xcd, 0xee]));
    }
}
