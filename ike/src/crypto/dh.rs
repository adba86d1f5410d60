//! Diffie-Hellman groups (Transform Type 4).
//!
//! * MODP 14, 15, 16 (RFC 3526) and, only with `allow_weak`, 2 (RFC 2409) and 5 (RFC 3526):
//!   constant-time Montgomery exponentiation from `crypto-bigint` 0.5 (the version the p256 /
//!   p384 / p521 crates already use, so one bigint crate in the tree). Public values must be
//!   exactly the prime's length and satisfy 1 < y < p − 1 (RFC 7296 §3.4, SP 800-56A range
//!   check); the shared secret is padded to the prime's length (§2.14).
//! * ECP 19, 20, 21 (RFC 5903): the RustCrypto `p256` / `p384` / `p521` crates. KE data is
//!   x ‖ y (no SEC1 prefix); points are validated on decoding (on the curve, not the identity);
//!   the shared secret is the x coordinate (RFC 5903 §7 as corrected by its erratum).
//! * Curve25519, group 31 (RFC 8031): `x25519-dalek`; an all-zero shared secret (low-order
//!   peer point) is refused (RFC 8031 §2, RFC 7748 §6.1).
//!
//! Private keys are drawn from a caller-supplied RNG (sans-I/O) and zeroize on drop.

use super::{CryptoError, Secret};
use crate::codec::DhGroup;
use core::fmt;
use crypto_bigint::modular::runtime_mod::{DynResidue, DynResidueParams};
use crypto_bigint::{Uint, U1024, U1536, U2048, U3072, U4096};
use rand_core::CryptoRngCore;
use zeroize::Zeroize;

/// Group 2 prime (RFC 2409 §6.2).
const MODP_1024: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF",
);

/// Group 5 prime (RFC 3526).
const MODP_1536: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F",
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA237327FFFFFFFFFFFFFFFF",
);

/// Group 14 prime (RFC 3526).
const MODP_2048: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F",
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510",
    "15728E5A8AACAA68FFFFFFFFFFFFFFFF",
);

/// Group 15 prime (RFC 3526).
const MODP_3072: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F",
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510",
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C",
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
);

/// Group 16 prime (RFC 3526).
const MODP_4096: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F",
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510",
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C",
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A92108011A723C12A787E6D7",
    "88719A10BDBA5B2699C327186AF4E23C1A946834B6150BDA2583E9CA2AD44CE8DBBBC2DB04DE8EF92E8EFC141FBECAA6",
    "287C59474E6BC05D99B2964FA090C3A2233BA186515BE7ED1F612970CEE2D7AFB81BDD762170481CD0069127D5B05AA9",
    "93B4EA988D8FDDC186FFB7DC90A6C08F4DF435C934063199FFFFFFFFFFFFFFFF",
);

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).filter_map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}

/// MODP 1024 and 1536 (groups 2 and 5): implemented, but used only when a peer allows them.
pub fn is_weak(group: DhGroup) -> bool {
    matches!(group, DhGroup::MODP_1024 | DhGroup::MODP_1536)
}

/// Is `group` implemented here (weak groups only when `allow_weak`)?
pub fn is_supported(group: DhGroup, allow_weak: bool) -> bool {
    check_group(group, allow_weak).is_ok()
}

fn check_group(group: DhGroup, allow_weak: bool) -> Result<(), CryptoError> {
    match group {
        g if is_weak(g) && !allow_weak => Err(CryptoError::WeakGroup),
        DhGroup::MODP_1024
        | DhGroup::MODP_1536
        | DhGroup::MODP_2048
        | DhGroup::MODP_3072
        | DhGroup::MODP_4096
        | DhGroup::ECP_256
        | DhGroup::ECP_384
        | DhGroup::ECP_521
        | DhGroup::CURVE25519 => Ok(()),
        _ => Err(CryptoError::Unsupported),
    }
}

fn modp_prime(group: DhGroup) -> Option<&'static str> {
    Some(match group {
        DhGroup::MODP_1024 => MODP_1024,
        DhGroup::MODP_1536 => MODP_1536,
        DhGroup::MODP_2048 => MODP_2048,
        DhGroup::MODP_3072 => MODP_3072,
        DhGroup::MODP_4096 => MODP_4096,
        _ => return None,
    })
}

/// Length of the KE data for `group`.
pub fn public_value_len(group: DhGroup) -> Option<usize> {
    Some(match group {
        g if modp_prime(g).is_some() => modp_prime(g)?.len() / 2,
        DhGroup::ECP_256 => 64,
        DhGroup::ECP_384 => 96,
        DhGroup::ECP_521 => 132,
        DhGroup::CURVE25519 => 32,
        _ => return None,
    })
}

fn uint_bytes<const L: usize>(u: &Uint<L>) -> Vec<u8> {
    u.as_words().iter().rev().flat_map(|w| w.to_be_bytes()).collect()
}

/// base^exp mod p, all big-endian of the prime's length; constant time in `exp`.
fn modp_pow_l<const L: usize>(p: &[u8], base: &[u8], exp: &[u8]) -> Secret {
    let p = Uint::<L>::from_be_slice(p);
    let params = DynResidueParams::new(&p);
    let b = Uint::<L>::from_be_slice(base);
    let mut e = Uint::<L>::from_be_slice(exp);
    let mut r = DynResidue::new(&b, params).pow(&e).retrieve();
    let out = Secret::new(uint_bytes(&r));
    e.zeroize();
    r.zeroize();
    out
}

/// 1 < y < p − 1.
fn modp_in_range_l<const L: usize>(p: &[u8], y: &[u8]) -> bool {
    let p = Uint::<L>::from_be_slice(p);
    let y = Uint::<L>::from_be_slice(y);
    y > Uint::ONE && y < p.wrapping_sub(&Uint::ONE)
}

fn modp_pow(p: &[u8], base: &[u8], exp: &[u8]) -> Secret {
    match p.len() * 8 {
        1024 => modp_pow_l::<{ U1024::LIMBS }>(p, base, exp),
        1536 => modp_pow_l::<{ U1536::LIMBS }>(p, base, exp),
        2048 => modp_pow_l::<{ U2048::LIMBS }>(p, base, exp),
        3072 => modp_pow_l::<{ U3072::LIMBS }>(p, base, exp),
        _ => modp_pow_l::<{ U4096::LIMBS }>(p, base, exp),
    }
}

fn modp_in_range(p: &[u8], y: &[u8]) -> bool {
    match p.len() * 8 {
        1024 => modp_in_range_l::<{ U1024::LIMBS }>(p, y),
        1536 => modp_in_range_l::<{ U1536::LIMBS }>(p, y),
        2048 => modp_in_range_l::<{ U2048::LIMBS }>(p, y),
        3072 => modp_in_range_l::<{ U3072::LIMBS }>(p, y),
        _ => modp_in_range_l::<{ U4096::LIMBS }>(p, y),
    }
}

enum Private {
    Modp { p: Vec<u8>, x: Secret },
    P256(p256::SecretKey),
    P384(p384::SecretKey),
    P521(p521::SecretKey),
    X25519(x25519_dalek::StaticSecret),
}

/// Our side of one Diffie-Hellman exchange.
pub struct DhPrivateKey {
    group: DhGroup,
    key: Private,
}

impl fmt::Debug for DhPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DhPrivateKey({:?}, redacted)", self.group)
    }
}

macro_rules! ecp_public {
    ($sk:expr) => {{
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        let pt = $sk.public_key().to_encoded_point(false);
        pt.as_bytes()[1..].to_vec()
    }};
}

macro_rules! ecp_shared {
    ($krate:ident, $sk:expr, $peer:expr) => {{
        let mut sec1 = Vec::with_capacity($peer.len() + 1);
        sec1.push(0x04);
        sec1.extend_from_slice($peer);
        let pk = $krate::PublicKey::from_sec1_bytes(&sec1).map_err(|_| CryptoError::InvalidPublicValue)?;
        let shared = $krate::ecdh::diffie_hellman($sk.to_nonzero_scalar(), pk.as_affine());
        Secret::from_slice(shared.raw_secret_bytes())
    }};
}

impl DhPrivateKey {
    /// A fresh key pair for `group`.
    pub fn generate(
        group: DhGroup,
        allow_weak: bool,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Self, CryptoError> {
        check_group(group, allow_weak)?;
        let key = match group {
            DhGroup::ECP_256 => Private::P256(p256::SecretKey::random(rng)),
            DhGroup::ECP_384 => Private::P384(p384::SecretKey::random(rng)),
            DhGroup::ECP_521 => Private::P521(p521::SecretKey::random(rng)),
            DhGroup::CURVE25519 => Private::X25519(x25519_dalek::StaticSecret::random_from_rng(rng)),
            g => {
                let p = unhex(modp_prime(g).ok_or(CryptoError::Unsupported)?);
                // x uniformly below 2^(n-1) < p, and at least 2.
                let mut x = vec![0u8; p.len()];
                loop {
                    rng.fill_bytes(&mut x);
                    x[0] &= 0x7f;
                    if x[..p.len() - 1].iter().any(|&b| b != 0) || x[p.len() - 1] > 1 {
                        break;
                    }
                }
                Private::Modp { p, x: Secret::new(x) }
            }
        };
        Ok(DhPrivateKey { group, key })
    }

    /// A key from known private bytes (test vectors; a MODP exponent of the prime's length,
    /// a curve scalar of the field length, or an X25519 scalar of 32 bytes).
    pub fn from_private_bytes(group: DhGroup, allow_weak: bool, bytes: &[u8]) -> Result<Self, CryptoError> {
        check_group(group, allow_weak)?;
        let bad = |_| CryptoError::BadLength;
        let key = match group {
            DhGroup::ECP_256 if bytes.len() == 32 => {
                Private::P256(p256::SecretKey::from_slice(bytes).map_err(bad)?)
            }
            DhGroup::ECP_384 if bytes.len() == 48 => {
                Private::P384(p384::SecretKey::from_slice(bytes).map_err(bad)?)
            }
            DhGroup::ECP_521 if bytes.len() == 66 => {
                Private::P521(p521::SecretKey::from_slice(bytes).map_err(bad)?)
            }
            DhGroup::CURVE25519 => {
                let mut b: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadLength)?;
                let k = x25519_dalek::StaticSecret::from(b);
                b.zeroize();
                Private::X25519(k)
            }
            g => match modp_prime(g) {
                Some(p) if bytes.len() == p.len() / 2 => {
                    Private::Modp { p: unhex(p), x: Secret::from_slice(bytes) }
                }
                _ => return Err(CryptoError::BadLength),
            },
        };
        Ok(DhPrivateKey { group, key })
    }

    pub fn group(&self) -> DhGroup {
        self.group
    }

    /// Our public value, as the KE payload carries it.
    pub fn public_value(&self) -> Vec<u8> {
        match &self.key {
            Private::Modp { p, x } => {
                let mut g = vec![0u8; p.len()];
                g[p.len() - 1] = 2;
                modp_pow(p, &g, x.as_bytes()).as_bytes().to_vec()
            }
            Private::P256(sk) => ecp_public!(sk),
            Private::P384(sk) => ecp_public!(sk),
            Private::P521(sk) => ecp_public!(sk),
            Private::X25519(sk) => x25519_dalek::PublicKey::from(sk).as_bytes().to_vec(),
        }
    }

    /// g^ir from the peer's KE data, after validating it.
    pub fn shared_secret(&self, peer: &[u8]) -> Result<Secret, CryptoError> {
        if Some(peer.len()) != public_value_len(self.group) {
            return Err(CryptoError::KeLength);
        }
        Ok(match &self.key {
            Private::Modp { p, x } => {
                if !modp_in_range(p, peer) {
                    return Err(CryptoError::InvalidPublicValue);
                }
                modp_pow(p, peer, x.as_bytes())
            }
            Private::P256(sk) => ecp_shared!(p256, sk, peer),
            Private::P384(sk) => ecp_shared!(p384, sk, peer),
            Private::P521(sk) => ecp_shared!(p521, sk, peer),
            Private::X25519(sk) => {
                let pk: [u8; 32] = peer.try_into().map_err(|_| CryptoError::KeLength)?;
                let s = sk.diffie_hellman(&x25519_dalek::PublicKey::from(pk));
                if !s.was_contributory() {
                    return Err(CryptoError::InvalidPublicValue);
                }
                Secret::from_slice(s.as_bytes())
            }
        })
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::codec::test_util::hex;
    use crate::crypto::test_rng::TestRng;

    /// RFC 5903 §8.1–8.3: i, g^i, r, g^r and the x coordinate of g^ir.
    #[test]
    fn rfc5903_ecp_vectors() {
        let cases = [
            (
                DhGroup::ECP_256,
                "c88f01f510d9ac3f70a292daa2316de544e9aab8afe84049c62a9c57862d1433",
                "dad0b65394221cf9b051e1feca5787d098dfe637fc90b9ef945d0c3772581180\
                 5271a0461cdb8252d61f1c456fa3e59ab1f45b33accf5f58389e0577b8990bb3",
                "c6ef9c5d78ae012a011164acb397ce2088685d8f06bf9be0b283ab46476bee53",
                "d12dfb5289c8d4f81208b70270398c342296970a0bccb74c736fc7554494bf63\
                 56fbf3ca366cc23e8157854c13c58d6aac23f046ada30f8353e74f33039872ab",
                "d6840f6b42f6edafd13116e0e12565202fef8e9ece7dce03812464d04b9442de",
            ),
            (
                DhGroup::ECP_384,
                "099f3c7034d4a2c699884d73a375a67f7624ef7c6b3c0f160647b67414dce655e35b538041e649ee3faef896783ab194",
                "667842d7d180ac2cde6f74f37551f55755c7645c20ef73e31634fe72b4c55ee6de3ac808acb4bdb4c88732aee95f41aa\
                 9482ed1fc0eeb9cafc4984625ccfc23f65032149e0e144ada024181535a0f38eeb9fcff3c2c947dae69b4c634573a81c",
                "41cb0779b4bdb85d47846725fbec3c9430fab46cc8dc5060855cc9bda0aa2942e0308312916b8ed2960e4bd55a7448fc",
                "e558dbef53eecde3d3fccfc1aea08a89a987475d12fd950d83cfa41732bc509d0d1ac43a0336def96fda41d0774a3571\
                 dcfbec7aacf3196472169e838430367f66eebe3c6e70c416dd5f0c68759dd1fff83fa40142209dff5eaad96db9e6386c",
                "11187331c279962d93d604243fd592cb9d0a926f422e47187521287e7156c5c4d603135569b9e9d09cf5d4a270f59746",
            ),
            (
                DhGroup::ECP_521,
                "0037ade9319a89f4dabdb3ef411aaccca5123c61acab57b5393dce47608172a095aa85a30fe1c2952c6771d937ba9777f5957b2639bab072462f68c27a57382d4a52",
                "0015417e84dbf28c0ad3c278713349dc7df153c897a1891bd98bab4357c9ecbee1e3bf42e00b8e380aeae57c2d107564941885942af5a7f4601723c4195d176ced3e\
                 017cae20b6641d2eeb695786d8c946146239d099e18e1d5a514c739d7cb4a10ad8a788015ac405d7799dc75e7b7d5b6cf2261a6a7f1507438bf01beb6ca3926f9582",
                "0145ba99a847af43793fdd0e872e7cdfa16be30fdc780f97bccc3f078380201e9c677d600b343757a3bdbf2a3163e4c2f869cca7458aa4a4effc311f5cb151685eb9",
                "00d0b3975ac4b799f5bea16d5e13e9af971d5e9b984c9f39728b5e5739735a219b97c356436adc6e95bb0352f6be64a6c2912d4ef2d0433ced2b6171640012d9460f\
                 015c68226383956e3bd066e797b623c27ce0eac2f551a10c2c724d9852077b87220b6536c5c408a1d2aebb8e86d678ae49cb57091f4732296579ab44fcd17f0fc56a",
                "01144c7d79ae6956bc8edb8e7c787c4521cb086fa64407f97894e5e6b2d79b04d1427e73ca4baa240a34786859810c06b3c715a3a8cc3151f2bee417996d19f3ddea",
            ),
        ];
        for (group, i, gi, r, gr, gir) in cases {
            let ki = DhPrivateKey::from_private_bytes(group, false, &hex(i)).unwrap();
            let kr = DhPrivateKey::from_private_bytes(group, false, &hex(r)).unwrap();
            assert_eq!(ki.public_value(), hex(gi), "{group:?} g^i");
            assert_eq!(kr.public_value(), hex(gr), "{group:?} g^r");
            assert_eq!(ki.shared_secret(&hex(gr)).unwrap().as_bytes(), &hex(gir)[..], "{group:?}");
            assert_eq!(kr.shared_secret(&hex(gi)).unwrap().as_bytes(), &hex(gir)[..], "{group:?}");
            // A point off the curve (y + 1) and a short value are refused.
            let mut off = hex(gr);
            *off.last_mut().unwrap() ^= 1;
            assert_eq!(ki.shared_secret(&off).unwrap_err(), CryptoError::InvalidPublicValue);
            assert_eq!(ki.shared_secret(&off[1..]).unwrap_err(), CryptoError::KeLength);
            // The identity has no affine encoding; all zeros is not on the curve.
            assert_eq!(ki.shared_secret(&vec![0; off.len()]).unwrap_err(), CryptoError::InvalidPublicValue);
        }
    }

    /// RFC 7748 §6.1.
    #[test]
    fn rfc7748_x25519() {
        let a = DhPrivateKey::from_private_bytes(
            DhGroup::CURVE25519,
            false,
            &hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
        )
        .unwrap();
        let b = DhPrivateKey::from_private_bytes(
            DhGroup::CURVE25519,
            false,
            &hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"),
        )
        .unwrap();
        assert_eq!(a.public_value(), hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"));
        assert_eq!(b.public_value(), hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"));
        let k = hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
        assert_eq!(a.shared_secret(&b.public_value()).unwrap().as_bytes(), &k[..]);
        assert_eq!(b.shared_secret(&a.public_value()).unwrap().as_bytes(), &k[..]);
        // Low-order points give an all-zero secret: refused.
        assert_eq!(a.shared_secret(&[0; 32]).unwrap_err(), CryptoError::InvalidPublicValue);
        let mut one = [0u8; 32];
        one[0] = 1;
        assert_eq!(a.shared_secret(&one).unwrap_err(), CryptoError::InvalidPublicValue);
        assert_eq!(a.shared_secret(&[9; 31]).unwrap_err(), CryptoError::KeLength);
    }

    #[test]
    fn modp_agreement_and_range_checks() {
        let mut rng = TestRng(1);
        for group in [DhGroup::MODP_2048, DhGroup::MODP_3072, DhGroup::MODP_4096] {
            let a = DhPrivateKey::generate(group, false, &mut rng).unwrap();
            let b = DhPrivateKey::generate(group, false, &mut rng).unwrap();
            let (pa, pb) = (a.public_value(), b.public_value());
            let n = public_value_len(group).unwrap();
            assert_eq!((pa.len(), pb.len()), (n, n));
            let s = a.shared_secret(&pb).unwrap();
            assert_eq!(s.len(), n, "padded to the prime length");
            assert!(s.ct_eq(b.shared_secret(&pa).unwrap().as_bytes()), "{group:?}");
            let p = unhex(modp_prime(group).unwrap());
            let mut p_minus_1 = p.clone();
            p_minus_1[n - 1] -= 1;
            let mut one = vec![0u8; n];
            one[n - 1] = 1;
            let mut two = one.clone();
            two[n - 1] = 2;
            for bad in [vec![0u8; n], one, p_minus_1, p.clone(), vec![0xff; n]] {
                assert_eq!(a.shared_secret(&bad).unwrap_err(), CryptoError::InvalidPublicValue);
            }
            assert!(a.shared_secret(&two).is_ok());
            assert_eq!(a.shared_secret(&pb[1..]).unwrap_err(), CryptoError::KeLength);
        }
    }

    /// 2^x mod p for a small known x, checked by hand: x = 0x0100 (256) gives 2^256.
    #[test]
    fn modp_known_power() {
        let n = 256;
        let mut x = vec![0u8; n];
        x[n - 2] = 1;
        let k = DhPrivateKey::from_private_bytes(DhGroup::MODP_2048, false, &x).unwrap();
        let mut want = vec![0u8; n];
        want[n - 33] = 1;
        assert_eq!(k.public_value(), want);
    }

    #[test]
    fn weak_groups_need_the_flag() {
        let mut rng = TestRng(2);
        for g in [DhGroup::MODP_1024, DhGroup::MODP_1536] {
            assert_eq!(DhPrivateKey::generate(g, false, &mut rng).unwrap_err(), CryptoError::WeakGroup);
            assert!(!is_supported(g, false));
            let a = DhPrivateKey::generate(g, true, &mut rng).unwrap();
            let b = DhPrivateKey::generate(g, true, &mut rng).unwrap();
            assert!(a
                .shared_secret(&b.public_value())
                .unwrap()
                .ct_eq(b.shared_secret(&a.public_value()).unwrap().as_bytes()));
        }
        assert_eq!(
            DhPrivateKey::generate(DhGroup::MODP_768, true, &mut rng).unwrap_err(),
            CryptoError::Unsupported
        );
        assert_eq!(
            DhPrivateKey::generate(DhGroup::CURVE448, true, &mut rng).unwrap_err(),
            CryptoError::Unsupported
        );
    }

    #[test]
    fn generated_ec_keys_agree_and_debug_is_redacted() {
        let mut rng = TestRng(3);
        for g in [DhGroup::ECP_256, DhGroup::ECP_384, DhGroup::ECP_521, DhGroup::CURVE25519] {
            let a = DhPrivateKey::generate(g, false, &mut rng).unwrap();
            let b = DhPrivateKey::generate(g, false, &mut rng).unwrap();
            assert_eq!(a.public_value().len(), public_value_len(g).unwrap());
            let s = a.shared_secret(&b.public_value()).unwrap();
            assert!(s.ct_eq(b.shared_secret(&a.public_value()).unwrap().as_bytes()));
            assert_eq!(format!("{a:?}"), format!("DhPrivateKey({g:?}, redacted)"));
        }
    }
}
