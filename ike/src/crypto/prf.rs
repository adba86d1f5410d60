//! Pseudorandom functions (RFC 7296 §3.3.2 Transform Type 2) and prf+ (§2.13).
//!
//! ```text
//! prf+ (K,S) = T1 | T2 | T3 | ...
//! T1 = prf (K, S | 0x01),  Tn = prf (K, Tn-1 | S | n)   (n up to 255)
//! ```

use super::hash::{HashAlg, Hmac, MAX_DIGEST_LEN};
use super::{CryptoError, Secret};
use crate::codec::PrfId;
use zeroize::Zeroize;

/// The HMAC-based PRFs (RFC 2104 / RFC 4868).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PrfAlg {
    HmacSha1,
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

impl PrfAlg {
    pub fn from_id(id: PrfId) -> Option<PrfAlg> {
        Some(match id {
            PrfId::HMAC_SHA1 => PrfAlg::HmacSha1,
            PrfId::HMAC_SHA2_256 => PrfAlg::HmacSha256,
            PrfId::HMAC_SHA2_384 => PrfAlg::HmacSha384,
            PrfId::HMAC_SHA2_512 => PrfAlg::HmacSha512,
            _ => return None,
        })
    }

    pub fn id(self) -> PrfId {
        match self {
            PrfAlg::HmacSha1 => PrfId::HMAC_SHA1,
            PrfAlg::HmacSha256 => PrfId::HMAC_SHA2_256,
            PrfAlg::HmacSha384 => PrfId::HMAC_SHA2_384,
            PrfAlg::HmacSha512 => PrfId::HMAC_SHA2_512,
        }
    }

    pub fn hash(self) -> HashAlg {
        match self {
            PrfAlg::HmacSha1 => HashAlg::Sha1,
            PrfAlg::HmacSha256 => HashAlg::Sha256,
            PrfAlg::HmacSha384 => HashAlg::Sha384,
            PrfAlg::HmacSha512 => HashAlg::Sha512,
        }
    }

    /// Output length; also the key length used for SK_d, SK_pi and SK_pr (§2.14).
    pub fn output_len(self) -> usize {
        self.hash().digest_len()
    }

    /// prf(key, parts...) in one call.
    pub fn prf(self, key: &[u8], parts: &[&[u8]]) -> Secret {
        Prf::new(self, key).compute(parts)
    }

    /// prf+(key, seed parts...) truncated to `len` bytes.
    pub fn prf_plus(self, key: &[u8], seed: &[&[u8]], len: usize) -> Result<Secret, CryptoError> {
        Prf::new(self, key).plus(seed, len)
    }
}

/// A keyed PRF (the key schedule is computed once and wiped on drop).
#[derive(Clone)]
pub struct Prf {
    alg: PrfAlg,
    hmac: Hmac,
}

impl core::fmt::Debug for Prf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Prf({:?}, key redacted)", self.alg)
    }
}

impl Prf {
    pub fn new(alg: PrfAlg, key: &[u8]) -> Prf {
        Prf { alg, hmac: Hmac::new(alg.hash(), key) }
    }

    pub fn alg(&self) -> PrfAlg {
        self.alg
    }

    pub fn compute(&self, parts: &[&[u8]]) -> Secret {
        let mut out = [0u8; MAX_DIGEST_LEN];
        let n = self.hmac.mac_into(parts, &mut out);
        let s = Secret::from_slice(&out[..n]);
        out.zeroize();
        s
    }

    /// prf+ with this key. At most 255 iterations (§2.13), so `len` ≤ 255 × output length.
    pub fn plus(&self, seed: &[&[u8]], len: usize) -> Result<Secret, CryptoError> {
        let olen = self.alg.output_len();
        if len > 255 * olen {
            return Err(CryptoError::PrfPlusTooLong);
        }
        let mut out = Vec::with_capacity(len.div_ceil(olen) * olen);
        let mut t = [0u8; MAX_DIGEST_LEN];
        let mut tlen = 0;
        let mut n: u8 = 1;
        while out.len() < len {
            let mut parts: Vec<&[u8]> = Vec::with_capacity(seed.len() + 2);
            parts.push(&t[..tlen]);
            parts.extend_from_slice(seed);
            let counter = [n];
            parts.push(&counter);
            let mut next = [0u8; MAX_DIGEST_LEN];
            tlen = self.hmac.mac_into(&parts, &mut next);
            t = next;
            next.zeroize();
            out.extend_from_slice(&t[..tlen]);
            n = n.wrapping_add(1);
        }
        t.zeroize();
        out.truncate(len);
        Ok(Secret::new(out))
    }
}

#[cfg(test)]
mod test {
    use super::*;

    /// prf+ against a direct reading of §2.13: each block recomputed from the definition.
    #[test]
    fn prf_plus_matches_its_definition() {
        for alg in [PrfAlg::HmacSha1, PrfAlg::HmacSha256, PrfAlg::HmacSha384, PrfAlg::HmacSha512] {
            let key = b"prf+ key";
            let seed: &[u8] = b"seed bytes";
            let olen = alg.output_len();
            let len = 3 * olen + 7;
            let got = alg.prf_plus(key, &[&seed[..4], &seed[4..]], len).unwrap();
            let t1 = alg.prf(key, &[seed, &[1]]);
            let t2 = alg.prf(key, &[t1.as_bytes(), seed, &[2]]);
            let t3 = alg.prf(key, &[t2.as_bytes(), seed, &[3]]);
            let t4 = alg.prf(key, &[t3.as_bytes(), seed, &[4]]);
            let want = [t1.as_bytes(), t2.as_bytes(), t3.as_bytes(), &t4.as_bytes()[..7]].concat();
            assert_eq!(got.as_bytes(), &want[..], "{alg:?}");
            // A shorter request is a prefix of a longer one.
            let short = alg.prf_plus(key, &[seed], olen + 1).unwrap();
            assert_eq!(short.as_bytes(), &want[..olen + 1]);
        }
    }

    #[test]
    fn prf_plus_limit_is_255_blocks() {
        let alg = PrfAlg::HmacSha256;
        assert_eq!(alg.prf_plus(b"k", &[b"s"], 255 * 32).unwrap().len(), 255 * 32);
        assert_eq!(alg.prf_plus(b"k", &[b"s"], 255 * 32 + 1).unwrap_err(), CryptoError::PrfPlusTooLong);
    }

    #[test]
    fn ids_round_trip() {
        for alg in [PrfAlg::HmacSha1, PrfAlg::HmacSha256, PrfAlg::HmacSha384, PrfAlg::HmacSha512] {
            assert_eq!(PrfAlg::from_id(alg.id()), Some(alg));
        }
        assert_eq!(PrfAlg::from_id(PrfId::AES128_XCBC), None);
        assert_eq!(format!("{:?}", Prf::new(PrfAlg::HmacSha1, &[0x41; 20])), "Prf(HmacSha1, key redacted)");
    }
}
