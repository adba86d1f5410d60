//! Key derivation (RFC 7296 §2.13–§2.18).
//!
//! ```text
//! SKEYSEED = prf(Ni | Nr, g^ir)                                          §2.14
//! {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr}
//!          = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)
//! SKEYSEED (rekey) = prf_old(SK_d (old), g^ir (new) | Ni | Nr)            §2.18
//! KEYMAT   = prf+(SK_d, [g^ir (new) |] Ni | Nr)                           §2.17
//! ```
//!
//! Ni and Nr are the nonce bodies; SPIi / SPIr the 8-octet header SPIs (initiator first,
//! whoever computes). SK_d, SK_pi and SK_pr have the PRF's output length; SK_a* the integrity
//! key length (none with AEAD); SK_e* the cipher key plus salt for GCM.

use super::encr::EncrAlg;
use super::integ::IntegAlg;
use super::prf::PrfAlg;
use super::{CryptoError, Secret};
use crate::codec::{EncrId, IntegId, PrfId};

/// The algorithms of an IKE SA: what the SK payload and the key derivation need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suite {
    pub encr: EncrAlg,
    pub prf: PrfAlg,
    /// `None` with an AEAD cipher (RFC 5282 §8: no integrity transform).
    pub integ: Option<IntegAlg>,
}

impl Suite {
    /// From negotiated transform IDs; `None` if unsupported or inconsistent (AEAD with an
    /// integrity transform, or a plain cipher without one).
    pub fn from_ids(encr: EncrId, key_bits: Option<u16>, prf: PrfId, integ: IntegId) -> Option<Suite> {
        let encr = EncrAlg::from_transform(encr, key_bits)?;
        let prf = PrfAlg::from_id(prf)?;
        let integ = match (encr.is_aead(), integ) {
            (true, IntegId::NONE) => None,
            (false, id) => Some(IntegAlg::from_id(id)?),
            (true, _) => return None,
        };
        Some(Suite { encr, prf, integ })
    }

    fn integ_key_len(&self) -> usize {
        self.integ.map_or(0, IntegAlg::key_len)
    }

    /// Total length of the seven SK_* keys.
    pub fn ike_keymat_len(&self) -> usize {
        3 * self.prf.output_len() + 2 * self.integ_key_len() + 2 * self.encr.key_material_len()
    }
}

/// The seven IKE SA keys. `Debug` prints lengths only (each is a [`Secret`]).
#[derive(Debug, Clone)]
pub struct IkeSaKeys {
    pub sk_d: Secret,
    pub sk_ai: Secret,
    pub sk_ar: Secret,
    pub sk_ei: Secret,
    pub sk_er: Secret,
    pub sk_pi: Secret,
    pub sk_pr: Secret,
}

/// SKEYSEED = prf(Ni | Nr, g^ir).
pub fn skeyseed(prf: PrfAlg, ni: &[u8], nr: &[u8], g_ir: &Secret) -> Secret {
    let mut key = Vec::with_capacity(ni.len() + nr.len());
    key.extend_from_slice(ni);
    key.extend_from_slice(nr);
    let key = Secret::new(key);
    prf.prf(key.as_bytes(), &[g_ir.as_bytes()])
}

/// SKEYSEED for a rekeyed IKE SA: prf(SK_d (old), g^ir (new) | Ni | Nr), computed with the
/// *old* IKE SA's PRF, as the exchange belongs to it (§2.18).
pub fn rekey_skeyseed(old_prf: PrfAlg, old_sk_d: &Secret, g_ir_new: &Secret, ni: &[u8], nr: &[u8]) -> Secret {
    old_prf.prf(old_sk_d.as_bytes(), &[g_ir_new.as_bytes(), ni, nr])
}

/// The IKE SA keys from SKEYSEED (with the new SA's suite and SPIs when rekeying).
pub fn ike_sa_keys(
    suite: &Suite,
    skeyseed: &Secret,
    ni: &[u8],
    nr: &[u8],
    spi_i: u64,
    spi_r: u64,
) -> Result<IkeSaKeys, CryptoError> {
    let (si, sr) = (spi_i.to_be_bytes(), spi_r.to_be_bytes());
    let all = suite.prf.prf_plus(skeyseed.as_bytes(), &[ni, nr, &si, &sr], suite.ike_keymat_len())?;
    let mut rest = all.as_bytes();
    let mut take = |n: usize| {
        let (a, b) = rest.split_at(n);
        rest = b;
        Secret::from_slice(a)
    };
    let (p, a, e) = (suite.prf.output_len(), suite.integ_key_len(), suite.encr.key_material_len());
    Ok(IkeSaKeys {
        sk_d: take(p),
        sk_ai: take(a),
        sk_ar: take(a),
        sk_ei: take(e),
        sk_er: take(e),
        sk_pi: take(p),
        sk_pr: take(p),
    })
}

/// Child SA KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr), `len` bytes (§2.17). Split it with
/// [`ChildSaKeys::split`].
pub fn child_keymat(
    prf: PrfAlg,
    sk_d: &Secret,
    g_ir_new: Option<&Secret>,
    ni: &[u8],
    nr: &[u8],
    len: usize,
) -> Result<Secret, CryptoError> {
    match g_ir_new {
        Some(g) => prf.prf_plus(sk_d.as_bytes(), &[g.as_bytes(), ni, nr], len),
        None => prf.prf_plus(sk_d.as_bytes(), &[ni, nr], len),
    }
}

/// A Child SA's keys: initiator-to-responder first, encryption before integrity (§2.17).
#[derive(Debug, Clone)]
pub struct ChildSaKeys {
    pub encr_i: Secret,
    pub integ_i: Secret,
    pub encr_r: Secret,
    pub integ_r: Secret,
}

impl ChildSaKeys {
    /// KEYMAT length for the given key sizes (encryption includes any salt).
    pub fn keymat_len(encr_len: usize, integ_len: usize) -> usize {
        2 * (encr_len + integ_len)
    }

    pub fn split(keymat: &Secret, encr_len: usize, integ_len: usize) -> Result<ChildSaKeys, CryptoError> {
        let b = keymat.as_bytes();
        if b.len() != Self::keymat_len(encr_len, integ_len) {
            return Err(CryptoError::BadLength);
        }
        let (i, r) = b.split_at(encr_len + integ_len);
        Ok(ChildSaKeys {
            encr_i: Secret::from_slice(&i[..encr_len]),
            integ_i: Secret::from_slice(&i[encr_len..]),
            encr_r: Secret::from_slice(&r[..encr_len]),
            integ_r: Secret::from_slice(&r[encr_len..]),
        })
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::codec::test_util::hex;

    // NIST CAVS "IKEv2 KDF" (SP 800-135 component test), SHA-1, first case of the set with
    // 64-bit nonces, 256-bit g^ir and 1056-bit DKM.
    const GIR: &str = "4b2c1f971981a8ad8d0abeafabf38cf75fc8349c148142465ed9c8b516b8be52";
    const GIR_NEW: &str = "863f3c9d06efd39d2b907b97f8699e5dd5251ef64a2a176f36ee40c87d4f9330";
    const NI: &str = "32b50d5f4a3763f3";
    const NR: &str = "9206a04b26564cb1";
    const SPII: u64 = 0x34c9_e7c1_8886_8785;
    const SPIR: u64 = 0x3ff7_7d76_0d2b_2199;
    const SKEYSEED: &str = "a9a7b222b59f8f48645f28a1db5b5f5d7479cba7";
    const DKM: &str = "a14293677cc80ff8f9cc0eee30d895da9d8f405666e30ef0dfcb63c634a46002a2a63080e514a062768b76606f9fa5e9\
                       92204fc5a670bde3f10d6b027113936a5c55b648a194ae587b0088d52204b702c979fa280870d2ed41efa9c549fd1119\
                       8af1670b143d384bd275c5f594cf266b05ebadca855e4249520a441a81157435a7a56cc4";
    const DKM_CHILD: &str = "8059e3ee8810e6c3a91bc8bcd2a7a41151b8d0e6ae239c7b38093ad85ef4c5811a8e7b5d1cdabd9560b2d5e092d1f24e\
                             2d4b85eccdf0ad0dc9abd94b51ee71814ca6dbc8bb51b6309f5b9545c7eb35cf5580b1e521a8fe20754a2d883ba0c2cf\
                             285f524aea6545b33106bc03e614296d319d41d4b50b3f510b1c0a22f3e664994d234cb4";
    const DKM_CHILD_DH: &str = "bb43244c1860ad65ee1e211ffe8bb3661750c8f89cb9f547df7f4fa61d37301628190e38c66232eab4b3ab14c400a519\
                                7dd3730ed4820a8a10394d51e1c0400052f63ebd36b0e7ef53aaed31eba4a5080d7d4b5666023a8bbb5ffb7857240f9a\
                                05884d1b7d2f933708450b7b3288f1fc863ab49fa901227cffc06e27899c7054d56fd74c";
    const SKEYSEED_REKEY: &str = "63e81194946ebd05df7df5ebf5d8750056bf1f1d";

    #[test]
    fn cavs_ikev2_kdf_sha1() {
        let prf = PrfAlg::HmacSha1;
        let (ni, nr) = (hex(NI), hex(NR));
        let gir = Secret::new(hex(GIR));
        let seed = skeyseed(prf, &ni, &nr, &gir);
        assert_eq!(seed.as_bytes(), &hex(SKEYSEED)[..]);
        let (si, sr) = (SPII.to_be_bytes(), SPIR.to_be_bytes());
        let dkm = prf.prf_plus(seed.as_bytes(), &[&ni, &nr, &si, &sr], 132).unwrap();
        assert_eq!(dkm.as_bytes(), &hex(DKM)[..]);
        let sk_d = Secret::from_slice(&dkm.as_bytes()[..20]);
        assert_eq!(child_keymat(prf, &sk_d, None, &ni, &nr, 132).unwrap().as_bytes(), &hex(DKM_CHILD)[..]);
        let gir_new = Secret::new(hex(GIR_NEW));
        assert_eq!(
            child_keymat(prf, &sk_d, Some(&gir_new), &ni, &nr, 132).unwrap().as_bytes(),
            &hex(DKM_CHILD_DH)[..]
        );
        assert_eq!(rekey_skeyseed(prf, &sk_d, &gir_new, &ni, &nr).as_bytes(), &hex(SKEYSEED_REKEY)[..]);
    }

    /// The seven keys are consecutive slices of one prf+ stream in RFC order.
    #[test]
    fn ike_sa_keys_slice_the_stream_in_order() {
        let suites = [
            Suite::from_ids(EncrId::AES_CBC, Some(128), PrfId::HMAC_SHA1, IntegId::HMAC_SHA1_96).unwrap(),
            Suite::from_ids(EncrId::AES_GCM_16, Some(256), PrfId::HMAC_SHA2_384, IntegId::NONE).unwrap(),
            Suite::from_ids(EncrId::AES_CBC, Some(256), PrfId::HMAC_SHA2_512, IntegId::HMAC_SHA2_256_128)
                .unwrap(),
        ];
        let seed = Secret::new(hex(SKEYSEED));
        let (ni, nr) = (hex(NI), hex(NR));
        for suite in suites {
            let k = ike_sa_keys(&suite, &seed, &ni, &nr, SPII, SPIR).unwrap();
            let (si, sr) = (SPII.to_be_bytes(), SPIR.to_be_bytes());
            let all =
                suite.prf.prf_plus(seed.as_bytes(), &[&ni, &nr, &si, &sr], suite.ike_keymat_len()).unwrap();
            let joined = [&k.sk_d, &k.sk_ai, &k.sk_ar, &k.sk_ei, &k.sk_er, &k.sk_pi, &k.sk_pr]
                .iter()
                .flat_map(|s| s.as_bytes().to_vec())
                .collect::<Vec<u8>>();
            assert_eq!(joined, all.as_bytes());
            assert_eq!(k.sk_d.len(), suite.prf.output_len());
            assert_eq!(k.sk_ei.len(), suite.encr.key_material_len());
            assert_eq!(k.sk_ai.len(), suite.integ.map_or(0, |i| i.key_len()));
        }
        // With SHA-1 and AES-CBC-128 + HMAC-SHA1-96 the CAVS DKM is exactly these keys' prefix.
        let k = ike_sa_keys(&suites[0], &seed, &ni, &nr, SPII, SPIR).unwrap();
        assert_eq!(k.sk_d.as_bytes(), &hex(DKM)[..20]);
        assert_eq!(k.sk_ai.as_bytes(), &hex(DKM)[20..40]);
    }

    #[test]
    fn suite_consistency() {
        assert!(Suite::from_ids(EncrId::AES_GCM_16, Some(128), PrfId::HMAC_SHA2_256, IntegId::HMAC_SHA1_96)
            .is_none());
        assert!(Suite::from_ids(EncrId::AES_CBC, Some(128), PrfId::HMAC_SHA2_256, IntegId::NONE).is_none());
        assert!(
            Suite::from_ids(EncrId::AES_CBC, Some(128), PrfId::AES128_XCBC, IntegId::HMAC_SHA1_96).is_none()
        );
    }

    #[test]
    fn child_split_and_no_key_bytes_in_debug() {
        let km = Secret::new((0u8..72).collect());
        let c = ChildSaKeys::split(&km, 20, 16).unwrap();
        assert_eq!(c.encr_i.as_bytes(), &(0u8..20).collect::<Vec<_>>()[..]);
        assert_eq!(c.integ_i.as_bytes(), &(20u8..36).collect::<Vec<_>>()[..]);
        assert_eq!(c.encr_r.as_bytes()[0], 36);
        assert_eq!(c.integ_r.as_bytes()[0], 56);
        assert!(ChildSaKeys::split(&km, 20, 15).is_err());
        // Keys made of a recognisable byte never show up in Debug output.
        let suite =
            Suite::from_ids(EncrId::AES_CBC, Some(128), PrfId::HMAC_SHA1, IntegId::HMAC_SHA1_96).unwrap();
        let k = ike_sa_keys(&suite, &Secret::new(vec![0xab; 20]), &[1; 16], &[2; 16], 1, 2).unwrap();
        for d in [format!("{k:?}"), format!("{c:?}"), format!("{km:?}")] {
            assert!(d.contains("bytes"));
            for s in [&k.sk_d, &k.sk_ei, &c.encr_i] {
                let b = s.as_bytes();
                assert!(!d.contains(&format!("{:02x}{:02x}", b[0], b[1])));
                assert!(!d.contains(&format!("{}, {}", b[0], b[1])));
            }
        }
    }
}
