//! Integrity algorithms for the SK payload with non-AEAD ciphers: truncated HMACs
//! (RFC 2404 HMAC-SHA1-96, RFC 4868 HMAC-SHA2-256-128 / 384-192 / 512-256).

use super::hash::{HashAlg, Hmac, MAX_DIGEST_LEN};
use super::CryptoError;
use crate::codec::IntegId;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntegAlg {
    HmacSha1_96,
    HmacSha256_128,
    HmacSha384_192,
    HmacSha512_256,
}

impl IntegAlg {
    pub fn from_id(id: IntegId) -> Option<IntegAlg> {
        Some(match id {
            IntegId::HMAC_SHA1_96 => IntegAlg::HmacSha1_96,
            IntegId::HMAC_SHA2_256_128 => IntegAlg::HmacSha256_128,
            IntegId::HMAC_SHA2_384_192 => IntegAlg::HmacSha384_192,
            IntegId::HMAC_SHA2_512_256 => IntegAlg::HmacSha512_256,
            _ => return None,
        })
    }

    pub fn id(self) -> IntegId {
        match self {
            IntegAlg::HmacSha1_96 => IntegId::HMAC_SHA1_96,
            IntegAlg::HmacSha256_128 => IntegId::HMAC_SHA2_256_128,
            IntegAlg::HmacSha384_192 => IntegId::HMAC_SHA2_384_192,
            IntegAlg::HmacSha512_256 => IntegId::HMAC_SHA2_512_256,
        }
    }

    fn hash(self) -> HashAlg {
        match self {
            IntegAlg::HmacSha1_96 => HashAlg::Sha1,
            IntegAlg::HmacSha256_128 => HashAlg::Sha256,
            IntegAlg::HmacSha384_192 => HashAlg::Sha384,
            IntegAlg::HmacSha512_256 => HashAlg::Sha512,
        }
    }

    /// Key length: the full digest length (RFC 2404, RFC 4868 §2.1.1).
    pub fn key_len(self) -> usize {
        self.hash().digest_len()
    }

    /// ICV length: half the digest (96 bits for SHA-1).
    pub fn icv_len(self) -> usize {
        match self {
            IntegAlg::HmacSha1_96 => 12,
            other => other.hash().digest_len() / 2,
        }
    }
}

/// A keyed integrity transform.
#[derive(Clone)]
pub struct Integ {
    alg: IntegAlg,
    hmac: Hmac,
}

impl core::fmt::Debug for Integ {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Integ({:?}, key redacted)", self.alg)
    }
}

impl Integ {
    pub fn new(alg: IntegAlg, key: &[u8]) -> Result<Integ, CryptoError> {
        if key.len() != alg.key_len() {
            return Err(CryptoError::BadLength);
        }
        Ok(Integ { alg, hmac: Hmac::new(alg.hash(), key) })
    }

    pub fn alg(&self) -> IntegAlg {
        self.alg
    }

    /// Writes the truncated HMAC of `parts` into `icv` (which must be `icv_len` long).
    pub fn sign(&self, parts: &[&[u8]], icv: &mut [u8]) -> Result<(), CryptoError> {
        if icv.len() != self.alg.icv_len() {
            return Err(CryptoError::BadLength);
        }
        let mut full = [0u8; MAX_DIGEST_LEN];
        self.hmac.mac_into(parts, &mut full);
        icv.copy_from_slice(&full[..icv.len()]);
        full.zeroize();
        Ok(())
    }

    /// Constant-time check of a truncated HMAC.
    pub fn verify(&self, parts: &[&[u8]], icv: &[u8]) -> bool {
        if icv.len() != self.alg.icv_len() {
            return false;
        }
        let mut full = [0u8; MAX_DIGEST_LEN];
        self.hmac.mac_into(parts, &mut full);
        let ok = bool::from(full[..icv.len()].ct_eq(icv));
        full.zeroize();
        ok
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::codec::test_util::hex;

    /// RFC 4868 §2.7.2.1 style: HMAC-SHA-256-128 is RFC 4231 test case 2 truncated;
    /// HMAC-SHA1-96 is RFC 2202 test case 2 truncated (RFC 2404 §3).
    #[test]
    fn truncated_vectors() {
        let cases = [
            (IntegAlg::HmacSha1_96, "effcdf6ae5eb2fa2d27416d5"),
            (IntegAlg::HmacSha256_128, "5bdcc146bf60754e6a042426089575c7"),
            (IntegAlg::HmacSha384_192, "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47"),
            (IntegAlg::HmacSha512_256, "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"),
        ];
        for (alg, want) in cases {
            // Key "Jefe" zero-padded to the key length gives the same HMAC as "Jefe" itself.
            let mut key = vec![0u8; alg.key_len()];
            key[..4].copy_from_slice(b"Jefe");
            let i = Integ::new(alg, &key).unwrap();
            let mut icv = vec![0u8; alg.icv_len()];
            i.sign(&[b"what do ya ", b"want for nothing?"], &mut icv).unwrap();
            assert_eq!(icv, hex(want), "{alg:?}");
            assert!(i.verify(&[b"what do ya want for nothing?"], &icv));
            icv[0] ^= 1;
            assert!(!i.verify(&[b"what do ya want for nothing?"], &icv));
            assert!(!i.verify(&[b"what do ya want for nothing?"], &icv[1..]));
            assert_eq!(Integ::new(alg, &key[1..]).unwrap_err(), CryptoError::BadLength);
            assert_eq!(IntegAlg::from_id(alg.id()), Some(alg));
            assert!(!format!("{i:?}").contains("Jefe"));
        }
    }
}
