//! IKEv1 key derivation and message protection (RFC 2409 §5, §5.5, Appendix B), over the
//! shared crypto suite.
//!
//! * `SKEYID = prf(PSK, Ni_b | Nr_b)` (pre-shared key authentication);
//! * `SKEYID_d = prf(SKEYID, g^xy | CKY-I | CKY-R | 0)`,
//!   `SKEYID_a = prf(SKEYID, SKEYID_d | g^xy | CKY-I | CKY-R | 1)`,
//!   `SKEYID_e = prf(SKEYID, SKEYID_a | g^xy | CKY-I | CKY-R | 2)`;
//! * the encryption key is the start of SKEYID_e, or of `K1 | K2 | ...` with
//!   `K1 = prf(SKEYID_e, 0)` and `Kn = prf(SKEYID_e, Kn-1)` when SKEYID_e is too short;
//! * phase 1 IV = `hash(g^xi | g^xr)` truncated to the block size, then the last ciphertext
//!   block of each message is the IV of the next (CBC across messages); each phase 2 /
//!   informational exchange starts from `hash(last phase 1 block | M-ID)`;
//! * `KEYMAT = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b)`, expanded as
//!   `K1 | K2 | ...` with `Kn = prf(SKEYID_d, Kn-1 | [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b)`.
//!
//! Encrypted bodies are padded with zero octets up to the block size; receivers ignore what
//! follows the payload chain.

use crate::crypto::encr::{Cipher, EncrAlg};
use crate::crypto::hash::Hasher;
use crate::crypto::prf::PrfAlg;
use crate::crypto::{CryptoError, Secret};

/// The ISAKMP SA's key material.
#[derive(Debug)]
pub struct Ph1Keys {
    pub skeyid: Secret,
    pub skeyid_d: Secret,
    pub skeyid_a: Secret,
    pub skeyid_e: Secret,
    /// The phase 1 encryption key (from SKEYID_e, expanded if needed).
    pub enc: Secret,
}

pub fn skeyid_psk(prf: PrfAlg, psk: &[u8], ni: &[u8], nr: &[u8]) -> Secret {
    prf.prf(psk, &[ni, nr])
}

pub fn derive(prf: PrfAlg, skeyid: Secret, gxy: &Secret, cky_i: u64, cky_r: u64, enc_len: usize) -> Ph1Keys {
    let (ci, cr) = (cky_i.to_be_bytes(), cky_r.to_be_bytes());
    let k = skeyid.as_bytes();
    let d = prf.prf(k, &[gxy.as_bytes(), &ci, &cr, &[0]]);
    let a = prf.prf(k, &[d.as_bytes(), gxy.as_bytes(), &ci, &cr, &[1]]);
    let e = prf.prf(k, &[a.as_bytes(), gxy.as_bytes(), &ci, &cr, &[2]]);
    let enc = expand_enc_key(prf, &e, enc_len);
    Ph1Keys { skeyid, skeyid_d: d, skeyid_a: a, skeyid_e: e, enc }
}

/// RFC 2409 Appendix B: the encryption key from SKEYID_e.
pub fn expand_enc_key(prf: PrfAlg, skeyid_e: &Secret, len: usize) -> Secret {
    if skeyid_e.len() >= len {
        return Secret::from_slice(&skeyid_e.as_bytes()[..len]);
    }
    let mut out = Vec::with_capacity(len + prf.output_len());
    let mut k = prf.prf(skeyid_e.as_bytes(), &[&[0]]);
    out.extend_from_slice(k.as_bytes());
    while out.len() < len {
        k = prf.prf(skeyid_e.as_bytes(), &[k.as_bytes()]);
        out.extend_from_slice(k.as_bytes());
    }
    out.truncate(len);
    Secret::new(out)
}

/// KEYMAT for one SA direction (the SPI is the receiver's inbound SPI), `len` bytes.
#[allow(clippy::too_many_arguments)] // the RFC formula's inputs, one each
pub fn keymat(
    prf: PrfAlg,
    skeyid_d: &Secret,
    gqm: Option<&Secret>,
    protocol: u8,
    spi: u32,
    ni: &[u8],
    nr: &[u8],
    len: usize,
) -> Secret {
    let spi = spi.to_be_bytes();
    let g: &[u8] = gqm.map_or(&[], Secret::as_bytes);
    let mut out = Vec::with_capacity(len + prf.output_len());
    let mut k = prf.prf(skeyid_d.as_bytes(), &[g, &[protocol], &spi, ni, nr]);
    out.extend_from_slice(k.as_bytes());
    while out.len() < len {
        k = prf.prf(skeyid_d.as_bytes(), &[k.as_bytes(), g, &[protocol], &spi, ni, nr]);
        out.extend_from_slice(k.as_bytes());
    }
    out.truncate(len);
    Secret::new(out)
}

pub fn phase1_iv(prf: PrfAlg, gxi: &[u8], gxr: &[u8], block: usize) -> Vec<u8> {
    let mut h = Hasher::digest(prf.hash(), &[gxi, gxr]);
    h.truncate(block);
    h
}

pub fn phase2_iv(prf: PrfAlg, last_p1_block: &[u8], message_id: u32, block: usize) -> Vec<u8> {
    let mut h = Hasher::digest(prf.hash(), &[last_p1_block, &message_id.to_be_bytes()]);
    h.truncate(block);
    h
}

/// Encrypts a plaintext chain (zero-padded to the block size) with `iv`, which becomes the
/// last ciphertext block (the next message's IV).
pub fn encrypt(cipher: &Cipher, iv: &mut Vec<u8>, plain: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let b = cipher.alg().block_len();
    let mut buf = plain.to_vec();
    buf.resize(plain.len().div_ceil(b).max(1) * b, 0);
    cipher.encrypt(iv, &[], &mut buf, &mut [])?;
    iv.clear();
    iv.extend_from_slice(&buf[buf.len() - b..]);
    Ok(buf)
}

/// Decrypts a body with `iv`. Returns the plaintext and the IV for the next message (the
/// caller commits it only once the message is authenticated).
pub fn decrypt(cipher: &Cipher, iv: &[u8], body: &[u8]) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    let b = cipher.alg().block_len();
    if body.is_empty() || !body.len().is_multiple_of(b) {
        return Err(CryptoError::BadLength);
    }
    let next = body[body.len() - b..].to_vec();
    let mut buf = body.to_vec();
    cipher.decrypt(iv, &[], &mut buf, &[])?;
    Ok((buf, next))
}

/// The phase 1 cipher: AES-CBC, or 3DES-CBC where the configuration allows it (AES-GCM is
/// not defined for IKEv1 phase 1).
pub fn ph1_cipher(alg: EncrAlg, key: &Secret) -> Result<Cipher, CryptoError> {
    if alg.is_aead() {
        return Err(CryptoError::Unsupported);
    }
    Cipher::new(alg, key.as_bytes())
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::codec::test_util::hex;

    /// One derivation computed independently with Python's hashlib/hmac (below), recorded
    /// here: HMAC-SHA1 (so AES-256 needs the Appendix B expansion), 16-octet nonces, a
    /// 32-octet g^xy, cookies 0x0102030405060708 / 0x1112131415161718.
    ///
    /// ```text
    /// import hmac, hashlib
    /// prf = lambda k, m: hmac.new(k, m, hashlib.sha1).digest()
    /// psk = b"correct horse battery staple"; ni = bytes(range(16)); nr = bytes(range(16, 32))
    /// g = bytes(range(100, 132)); ci = bytes.fromhex("0102030405060708"); cr = bytes.fromhex("1112131415161718")
    /// s = prf(psk, ni + nr); d = prf(s, g + ci + cr + b"\0"); a = prf(s, d + g + ci + cr + b"\1")
    /// e = prf(s, a + g + ci + cr + b"\2"); k1 = prf(e, b"\0"); k2 = prf(e, k1); enc = (k1 + k2)[:32]
    /// km1 = prf(d, b"\3" + bytes.fromhex("c0ffee01") + ni + nr); km2 = prf(d, km1 + b"\3" + bytes.fromhex("c0ffee01") + ni + nr)
    /// ```
    #[test]
    fn derivation_matches_independent_python() {
        let prf = PrfAlg::HmacSha1;
        let ni: Vec<u8> = (0..16).collect();
        let nr: Vec<u8> = (16..32).collect();
        let g = Secret::new((100..132).collect());
        let s = skeyid_psk(prf, b"correct horse battery staple", &ni, &nr);
        assert_eq!(s.as_bytes(), &hex(SKEYID)[..]);
        let k = derive(prf, s, &g, 0x0102_0304_0506_0708, 0x1112_1314_1516_1718, 32);
        assert_eq!(k.skeyid_d.as_bytes(), &hex(SKEYID_D)[..]);
        assert_eq!(k.skeyid_a.as_bytes(), &hex(SKEYID_A)[..]);
        assert_eq!(k.skeyid_e.as_bytes(), &hex(SKEYID_E)[..]);
        assert_eq!(k.enc.as_bytes(), &hex(ENC)[..]);
        let km = keymat(prf, &k.skeyid_d, None, 3, 0xc0ff_ee01, &ni, &nr, 36);
        assert_eq!(km.as_bytes(), &hex(KEYMAT)[..]);
        // A key no longer than SKEYID_e is its prefix.
        assert_eq!(expand_enc_key(prf, &k.skeyid_e, 16).as_bytes(), &k.skeyid_e.as_bytes()[..16]);
    }

    const SKEYID: &str = "668423b5aa880673fabb00be43bb42020e03604a";
    const SKEYID_D: &str = "b331b7f5a46778fb56a2bf7d9d59722e28b7728e";
    const SKEYID_A: &str = "2b4458a48066fd57d521f2443a48a1a2456a8120";
    const SKEYID_E: &str = "d6ba26acc1eb8a9e042415af4a7cbaa52244651a";
    const ENC: &str = "01ff640ac35a6eb15a5b1d28d700ad8b8c0e9953b36a34426d84a0f90688cfa4";
    const KEYMAT: &str = "2e387094ecd4040a052a18c3617f5e8065abcfc7eecd54160a89850d7328af406d53ff58";

    #[test]
    fn cbc_chaining_across_messages() {
        let c = Cipher::new(EncrAlg::AesCbc128, &[7; 16]).unwrap();
        let mut iv = vec![1; 16];
        let ct1 = encrypt(&c, &mut iv, b"first message").unwrap();
        assert_eq!(ct1.len(), 16);
        assert_eq!(iv, ct1[..]);
        let ct2 = encrypt(&c, &mut iv, &[9; 17]).unwrap();
        assert_eq!(ct2.len(), 32);
        let (p1, next) = decrypt(&c, &[1; 16], &ct1).unwrap();
        assert_eq!(&p1[..13], b"first message");
        let (p2, _) = decrypt(&c, &next, &ct2).unwrap();
        assert_eq!(&p2[..17], &[9; 17]);
        assert!(decrypt(&c, &next, &ct2[..20]).is_err());
        assert!(decrypt(&c, &next, &[]).is_err());
        assert_eq!(phase1_iv(PrfAlg::HmacSha256, b"a", b"b", 16).len(), 16);
        assert_ne!(
            phase2_iv(PrfAlg::HmacSha1, &[0; 16], 1, 16),
            phase2_iv(PrfAlg::HmacSha1, &[0; 16], 2, 16)
        );
        assert!(ph1_cipher(EncrAlg::AesGcm16_128, &Secret::new(vec![0; 20])).is_err());
    }
}
