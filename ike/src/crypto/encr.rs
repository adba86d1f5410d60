//! Ciphers for the SK payload: AES-CBC (RFC 3602 as used by RFC 7296 §3.14, paired with an
//! integrity transform) and AES-GCM with a 16-octet ICV (RFC 5282); 3DES-CBC (RFC 2451) only
//! for IKEv1 phase 1, where a configuration enables it.
//!
//! For AES-GCM the SK_e key material is the AES key followed by a 4-octet salt; the nonce is
//! salt ‖ the 8-octet IV carried in the payload (RFC 5282 §4, §7.1). The caller supplies the
//! IV: random for CBC, unique per key for GCM (a counter works).

use super::CryptoError;
use crate::codec::EncrId;
use aes::cipher::{generic_array::GenericArray, BlockDecrypt, BlockEncrypt, BlockSizeUser, KeyInit};
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use zeroize::Zeroizing;

const AES_BLOCK: usize = 16;
const DES_BLOCK: usize = 8;
const GCM_SALT_LEN: usize = 4;
const GCM_IV_LEN: usize = 8;
const GCM_ICV_LEN: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EncrAlg {
    AesCbc128,
    AesCbc256,
    AesGcm16_128,
    AesGcm16_256,
    /// Three-key 3DES-CBC: 64-bit blocks (Sweet32), kept for IKEv1 peers that offer nothing
    /// else and refused unless the peer's configuration says `allow_3des`.
    TripleDesCbc,
}

impl EncrAlg {
    /// From an ENCR transform and its Key Length attribute (in bits; required for AES).
    pub fn from_transform(id: EncrId, key_bits: Option<u16>) -> Option<EncrAlg> {
        Some(match (id, key_bits?) {
            (EncrId::AES_CBC, 128) => EncrAlg::AesCbc128,
            (EncrId::AES_CBC, 256) => EncrAlg::AesCbc256,
            (EncrId::AES_GCM_16, 128) => EncrAlg::AesGcm16_128,
            (EncrId::AES_GCM_16, 256) => EncrAlg::AesGcm16_256,
            _ => return None,
        })
    }

    pub fn id(self) -> EncrId {
        match self {
            EncrAlg::AesGcm16_128 | EncrAlg::AesGcm16_256 => EncrId::AES_GCM_16,
            EncrAlg::AesCbc128 | EncrAlg::AesCbc256 => EncrId::AES_CBC,
            EncrAlg::TripleDesCbc => EncrId::TRIPLE_DES,
        }
    }

    pub fn key_bits(self) -> u16 {
        match self {
            EncrAlg::AesCbc128 | EncrAlg::AesGcm16_128 => 128,
            EncrAlg::AesCbc256 | EncrAlg::AesGcm16_256 => 256,
            EncrAlg::TripleDesCbc => 192,
        }
    }

    /// 64-bit block ciphers (3DES), which need an explicit opt-in.
    pub fn is_weak(self) -> bool {
        self == EncrAlg::TripleDesCbc
    }

    pub fn is_aead(self) -> bool {
        matches!(self, EncrAlg::AesGcm16_128 | EncrAlg::AesGcm16_256)
    }

    /// Length of SK_ei / SK_er: the key, plus the salt for GCM.
    pub fn key_material_len(self) -> usize {
        self.key_bits() as usize / 8 + if self.is_aead() { GCM_SALT_LEN } else { 0 }
    }

    pub fn iv_len(self) -> usize {
        match self {
            EncrAlg::AesGcm16_128 | EncrAlg::AesGcm16_256 => GCM_IV_LEN,
            EncrAlg::AesCbc128 | EncrAlg::AesCbc256 => AES_BLOCK,
            EncrAlg::TripleDesCbc => DES_BLOCK,
        }
    }

    /// The plaintext (with padding and Pad Length) must be a multiple of this.
    pub fn block_len(self) -> usize {
        match self {
            EncrAlg::AesGcm16_128 | EncrAlg::AesGcm16_256 => 1,
            EncrAlg::AesCbc128 | EncrAlg::AesCbc256 => AES_BLOCK,
            EncrAlg::TripleDesCbc => DES_BLOCK,
        }
    }

    /// The AEAD tag length (0 for CBC, whose ICV comes from the integrity transform).
    pub fn tag_len(self) -> usize {
        if self.is_aead() {
            GCM_ICV_LEN
        } else {
            0
        }
    }
}

enum Keyed {
    Cbc128(Box<aes::Aes128>),
    Cbc256(Box<aes::Aes256>),
    Gcm128(Box<Aes128Gcm>),
    Gcm256(Box<Aes256Gcm>),
    Tdes(Box<des::TdesEde3>),
}

/// A keyed SK cipher for one direction. Key schedules zeroize on drop (the `aes` crate's
/// `zeroize` feature); the GCM salt is held in `Zeroizing`.
pub struct Cipher {
    alg: EncrAlg,
    keyed: Keyed,
    salt: Zeroizing<[u8; GCM_SALT_LEN]>,
}

impl core::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Cipher({:?}, key redacted)", self.alg)
    }
}

/// CBC over any block cipher; `iv` and `buf` are whole blocks (checked by the caller).
fn cbc_encrypt<C: BlockEncrypt>(c: &C, iv: &[u8], buf: &mut [u8]) {
    let n = C::block_size();
    let mut prev = [0u8; AES_BLOCK];
    prev[..n].copy_from_slice(iv);
    for block in buf.chunks_exact_mut(n) {
        for (b, p) in block.iter_mut().zip(prev.iter()) {
            *b ^= p;
        }
        c.encrypt_block(GenericArray::from_mut_slice(block));
        prev[..n].copy_from_slice(block);
    }
}

fn cbc_decrypt<C: BlockDecrypt + BlockSizeUser>(c: &C, iv: &[u8], buf: &mut [u8]) {
    let n = C::block_size();
    let mut prev = [0u8; AES_BLOCK];
    prev[..n].copy_from_slice(iv);
    for block in buf.chunks_exact_mut(n) {
        let mut ct = [0u8; AES_BLOCK];
        ct[..n].copy_from_slice(block);
        c.decrypt_block(GenericArray::from_mut_slice(block));
        for (b, p) in block.iter_mut().zip(prev.iter()) {
            *b ^= p;
        }
        prev = ct;
    }
}

impl Cipher {
    /// `keymat` is SK_ei or SK_er ([`EncrAlg::key_material_len`] bytes).
    pub fn new(alg: EncrAlg, keymat: &[u8]) -> Result<Cipher, CryptoError> {
        if keymat.len() != alg.key_material_len() {
            return Err(CryptoError::BadLength);
        }
        let klen = alg.key_bits() as usize / 8;
        let (key, salt_bytes) = keymat.split_at(klen);
        let bad = |_| CryptoError::BadLength;
        let keyed = match alg {
            EncrAlg::AesCbc128 => Keyed::Cbc128(Box::new(aes::Aes128::new_from_slice(key).map_err(bad)?)),
            EncrAlg::AesCbc256 => Keyed::Cbc256(Box::new(aes::Aes256::new_from_slice(key).map_err(bad)?)),
            EncrAlg::AesGcm16_128 => Keyed::Gcm128(Box::new(Aes128Gcm::new_from_slice(key).map_err(bad)?)),
            EncrAlg::AesGcm16_256 => Keyed::Gcm256(Box::new(Aes256Gcm::new_from_slice(key).map_err(bad)?)),
            EncrAlg::TripleDesCbc => Keyed::Tdes(Box::new(des::TdesEde3::new_from_slice(key).map_err(bad)?)),
        };
        let mut salt = Zeroizing::new([0u8; GCM_SALT_LEN]);
        if alg.is_aead() {
            salt.copy_from_slice(salt_bytes);
        }
        Ok(Cipher { alg, keyed, salt })
    }

    pub fn alg(&self) -> EncrAlg {
        self.alg
    }

    fn nonce(&self, iv: &[u8]) -> [u8; 12] {
        let mut n = [0u8; 12];
        n[..GCM_SALT_LEN].copy_from_slice(&self.salt[..]);
        n[GCM_SALT_LEN..].copy_from_slice(iv);
        n
    }

    fn check(&self, iv: &[u8], buf: &[u8], tag: &[u8]) -> Result<(), CryptoError> {
        let a = self.alg;
        if iv.len() != a.iv_len()
            || (buf.len() / a.block_len()) * a.block_len() != buf.len()
            || tag.len() != a.tag_len()
        {
            return Err(CryptoError::BadLength);
        }
        Ok(())
    }

    /// Encrypts `buf` in place. For GCM, `aad` is authenticated and the tag written to `tag`;
    /// for CBC both are unused (`tag` must be empty) and `buf` must be whole blocks.
    pub fn encrypt(&self, iv: &[u8], aad: &[u8], buf: &mut [u8], tag: &mut [u8]) -> Result<(), CryptoError> {
        self.check(iv, buf, tag)?;
        let t = match &self.keyed {
            Keyed::Cbc128(c) => {
                cbc_encrypt(c.as_ref(), iv, buf);
                return Ok(());
            }
            Keyed::Cbc256(c) => {
                cbc_encrypt(c.as_ref(), iv, buf);
                return Ok(());
            }
            Keyed::Tdes(c) => {
                cbc_encrypt(c.as_ref(), iv, buf);
                return Ok(());
            }
            Keyed::Gcm128(c) => c.encrypt_in_place_detached(&self.nonce(iv).into(), aad, buf),
            Keyed::Gcm256(c) => c.encrypt_in_place_detached(&self.nonce(iv).into(), aad, buf),
        }
        .map_err(|_| CryptoError::BadLength)?;
        tag.copy_from_slice(&t);
        Ok(())
    }

    /// Decrypts `buf` in place; for GCM verifies `tag` over `aad` and the ciphertext first
    /// (on failure `buf` is left as ciphertext).
    pub fn decrypt(&self, iv: &[u8], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> Result<(), CryptoError> {
        self.check(iv, buf, tag)?;
        let fail = |_| CryptoError::AuthenticationFailed;
        match &self.keyed {
            Keyed::Cbc128(c) => cbc_decrypt(c.as_ref(), iv, buf),
            Keyed::Cbc256(c) => cbc_decrypt(c.as_ref(), iv, buf),
            Keyed::Tdes(c) => cbc_decrypt(c.as_ref(), iv, buf),
            Keyed::Gcm128(c) => {
                c.decrypt_in_place_detached(&self.nonce(iv).into(), aad, buf, tag.into()).map_err(fail)?
            }
            Keyed::Gcm256(c) => {
                c.decrypt_in_place_detached(&self.nonce(iv).into(), aad, buf, tag.into()).map_err(fail)?
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::codec::test_util::hex;

    /// NIST SP 800-38A F.2.1 and F.2.5 (first two blocks).
    #[test]
    fn sp800_38a_cbc() {
        let iv = hex("000102030405060708090a0b0c0d0e0f");
        let pt = hex("6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51");
        let cases = [
            (
                EncrAlg::AesCbc128,
                "2b7e151628aed2a6abf7158809cf4f3c",
                "7649abac8119b246cee98e9b12e9197d 5086cb9b507219ee95db113a917678b2",
            ),
            (
                EncrAlg::AesCbc256,
                "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
                "f58c4c04d6e5f1ba779eabfb5f7bfbd6 9cfc4e967edb808d679f777bc6702c7d",
            ),
        ];
        for (alg, key, ct) in cases {
            let c = Cipher::new(alg, &hex(key)).unwrap();
            let mut buf = pt.clone();
            c.encrypt(&iv, &[], &mut buf, &mut []).unwrap();
            assert_eq!(buf, hex(ct), "{alg:?}");
            c.decrypt(&iv, &[], &mut buf, &[]).unwrap();
            assert_eq!(buf, pt);
            assert_eq!(c.encrypt(&iv, &[], &mut buf[..15], &mut []).unwrap_err(), CryptoError::BadLength);
        }
    }

    /// Three-key 3DES-CBC, computed independently with Python's `cryptography` (OpenSSL):
    /// `Cipher(TripleDES(key), modes.CBC(iv))` over the 24 bytes "The quick brown fox jump".
    #[test]
    fn triple_des_cbc_matches_openssl() {
        let key = hex("0123456789abcdef23456789abcdef01456789abcdef0123");
        let iv = hex("f69f2445df4f9b17");
        let pt = b"The quick brown fox jump".to_vec();
        let c = Cipher::new(EncrAlg::TripleDesCbc, &key).unwrap();
        assert_eq!((EncrAlg::TripleDesCbc.block_len(), EncrAlg::TripleDesCbc.key_material_len()), (8, 24));
        let mut buf = pt.clone();
        c.encrypt(&iv, &[], &mut buf, &mut []).unwrap();
        assert_eq!(buf, hex("63693c3d378a862f8051ae7c2934a296aa6c3102b6e5b79e"));
        c.decrypt(&iv, &[], &mut buf, &[]).unwrap();
        assert_eq!(buf, pt);
        assert_eq!(c.encrypt(&iv, &[], &mut buf[..12], &mut []).unwrap_err(), CryptoError::BadLength);
        assert_eq!(c.encrypt(&[0; 16], &[], &mut buf, &mut []).unwrap_err(), CryptoError::BadLength);
        assert!(format!("{c:?}").contains("redacted"));
    }

    /// The GCM specification's test cases 4 (AES-128) and 16 (AES-256), with the 96-bit IV
    /// split RFC 5282's way: the first 4 octets are the salt from the key material, the last 8
    /// the IV carried in the SK payload.
    #[test]
    fn gcm_spec_vectors_in_rfc5282_layout() {
        let pt = hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
             1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
        let aad = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
        let salt = hex("cafebabe");
        let iv = hex("facedbaddecaf888");
        let cases = [
            (
                EncrAlg::AesGcm16_128,
                "feffe9928665731c6d6a8f9467308308",
                "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
                 21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
                "5bc94fbc3221a5db94fae95ae7121a47",
            ),
            (
                EncrAlg::AesGcm16_256,
                "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
                "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
                 8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
                "76fc6ece0f4e1768cddf8853bb2d551b",
            ),
        ];
        for (alg, key, ct, tag) in cases {
            let keymat = [hex(key), salt.clone()].concat();
            let c = Cipher::new(alg, &keymat).unwrap();
            let mut buf = pt.clone();
            let mut t = [0u8; 16];
            c.encrypt(&iv, &aad, &mut buf, &mut t).unwrap();
            assert_eq!(buf, hex(ct), "{alg:?}");
            assert_eq!(t.to_vec(), hex(tag));
            let mut bad = buf.clone();
            bad[0] ^= 1;
            assert_eq!(c.decrypt(&iv, &aad, &mut bad, &t).unwrap_err(), CryptoError::AuthenticationFailed);
            assert_eq!(
                c.decrypt(&iv, &aad[1..], &mut buf.clone(), &t).unwrap_err(),
                CryptoError::AuthenticationFailed
            );
            c.decrypt(&iv, &aad, &mut buf, &t).unwrap();
            assert_eq!(buf, pt);
            assert!(!format!("{c:?}").contains("fe"));
        }
    }

    #[test]
    fn transform_mapping_and_lengths() {
        assert_eq!(EncrAlg::from_transform(EncrId::AES_GCM_16, Some(256)), Some(EncrAlg::AesGcm16_256));
        assert_eq!(EncrAlg::from_transform(EncrId::AES_CBC, None), None);
        assert_eq!(EncrAlg::from_transform(EncrId::AES_CBC, Some(192)), None);
        assert_eq!(EncrAlg::AesGcm16_128.key_material_len(), 20);
        assert_eq!(EncrAlg::AesGcm16_256.key_material_len(), 36);
        assert_eq!(EncrAlg::AesCbc256.key_material_len(), 32);
        assert_eq!(Cipher::new(EncrAlg::AesGcm16_128, &[0; 16]).unwrap_err(), CryptoError::BadLength);
    }
}
