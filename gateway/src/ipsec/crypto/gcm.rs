//! AES-GCM-16 for ESP (RFC 4106) on the `espgw-crypto` engine, which does
//! the AES-GCM itself (SP 800-38D; SIMD paths chosen at run time). This
//! module keeps only the ESP framing:
//!
//! * nonce = salt ‖ explicit IV, so J0 = salt ‖ IV ‖ 0x00000001 (RFC 4106 §4);
//! * AAD = SPI ‖ SeqLo, or SPI ‖ SeqHi ‖ SeqLo with ESN (RFC 4106 §5);
//! * the 16-byte tag is the ICV; a packet whose ICV does not verify is left
//!   as received.

use zeroize::{Zeroize, ZeroizeOnDrop};

/// Explicit IV carried in each ESP packet (RFC 4106 §3.1).
pub(super) const IV_LEN: usize = 8;
/// Implicit salt taken from the end of the key material (RFC 4106 §8.1).
pub(super) const SALT_LEN: usize = 4;
/// ICV length of the "16" variants.
pub(super) const ICV_LEN: usize = espgw_crypto::TAG_LEN;

/// Keyed state of one AES-GCM-16 ESP transform.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(super) struct GcmKey {
    /// Round keys and GHASH key powers; wipes itself on drop.
    #[zeroize(skip)]
    engine: espgw_crypto::GcmKey,
    /// RFC 4106 salt (last 4 bytes of the key material).
    pub(super) salt: [u8; SALT_LEN],
}

impl GcmKey {
    /// `enc_key` = AES key ‖ 4-byte salt (20 or 36 bytes).
    pub(super) fn new(enc_key: &[u8]) -> Option<GcmKey> {
        let split = enc_key.len().checked_sub(SALT_LEN)?;
        let (key, salt_bytes) = enc_key.split_at(split);
        let engine = espgw_crypto::GcmKey::new(key)?;
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(salt_bytes);
        Some(GcmKey { engine, salt })
    }

    /// The nonce and the AAD for the packet whose header (SPI | Seq | IV) is `hdr`.
    fn nonce_and_aad(&self, hdr: &[u8], esn: Option<u32>) -> ([u8; 12], [u8; 12], usize) {
        let mut nonce = [0u8; 12];
        nonce[..SALT_LEN].copy_from_slice(&self.salt);
        nonce[SALT_LEN..].copy_from_slice(&hdr[8..8 + IV_LEN]);
        let mut aad = [0u8; 12];
        aad[..4].copy_from_slice(&hdr[..4]);
        let aad_len = match super::esn_bytes(esn) {
            Some(hi) => {
                aad[4..8].copy_from_slice(&hi);
                aad[8..12].copy_from_slice(&hdr[4..8]);
                12
            }
            None => {
                aad[4..8].copy_from_slice(&hdr[4..8]);
                8
            }
        };
        (nonce, aad, aad_len)
    }

    /// The nonce (salt ‖ IV) and the AAD (SPI ‖ [SeqHi ‖] SeqLo) as the engine's packed
    /// integers, read from the header with two 8-byte loads: nothing is assembled in memory.
    #[inline(always)]
    fn packed(&self, hdr: &[u8; 16], esn: Option<u32>) -> (u128, u128, usize) {
        let spi_seq = u64::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3], hdr[4], hdr[5], hdr[6], hdr[7]]);
        let iv = u64::from_le_bytes([hdr[8], hdr[9], hdr[10], hdr[11], hdr[12], hdr[13], hdr[14], hdr[15]]);
        let nonce = u32::from_le_bytes(self.salt) as u128 | (iv as u128) << 32;
        match super::esn_bytes(esn) {
            Some(hi) => {
                let (spi, lo) = (spi_seq as u32 as u128, (spi_seq >> 32) as u128);
                (nonce, spi | (u32::from_le_bytes(hi) as u128) << 32 | lo << 64, 12)
            }
            None => (nonce, spi_seq as u128, 8),
        }
    }

    /// `esp[..ct_start]` = SPI | Seq | IV, `esp[ct_start..icv_start]` =
    /// plaintext, `esp[icv_start..]` = 16 bytes of ICV space.
    pub(super) fn seal(&self, esp: &mut [u8], ct_start: usize, icv_start: usize, esn: Option<u32>) {
        let (hdr, rest) = esp.split_at_mut(ct_start);
        let (ct, icv) = rest.split_at_mut(icv_start - ct_start);
        let tag = match <&[u8; 16]>::try_from(&*hdr) {
            Ok(h) => {
                let (nonce, aad, aad_len) = self.packed(h, esn);
                self.engine.seal_packed(nonce, aad, aad_len, ct)
            }
            Err(_) => {
                let (nonce, aad, aad_len) = self.nonce_and_aad(hdr, esn);
                self.engine.seal(&nonce, &aad[..aad_len], ct)
            }
        };
        for (d, s) in icv.iter_mut().zip(tag.iter()) {
            *d = *s;
        }
    }

    /// Verifies the ICV and decrypts in place; on `false` the packet is
    /// left as received.
    #[inline]
    pub(super) fn open(&self, esp: &mut [u8], ct_start: usize, icv_start: usize, esn: Option<u32>) -> bool {
        let (hdr, rest) = esp.split_at_mut(ct_start);
        let (ct, icv) = rest.split_at_mut(icv_start - ct_start);
        let Ok(tag) = <&[u8; ICV_LEN]>::try_from(&*icv) else {
            return false;
        };
        match <&[u8; 16]>::try_from(&*hdr) {
            Ok(h) => {
                let (nonce, aad, aad_len) = self.packed(h, esn);
                self.engine.open_packed(nonce, aad, aad_len, ct, tag)
            }
            Err(_) => {
                let (nonce, aad, aad_len) = self.nonce_and_aad(hdr, esn);
                self.engine.open(&nonce, &aad[..aad_len], ct, tag)
            }
        }
    }
}

#[cfg(test)]
use aes::Block;

/// Generic-IV GCM (any IV length, as in the GCM spec's test cases 5/6):
/// J0 = IV ‖ 0^31 ‖ 1 for 96-bit IVs, else GHASH(H, {}, IV). Computed here
/// with the `ghash` crate, apart from the engine, to check its H and Y0.
#[cfg(test)]
pub(super) fn j0_for_iv(h: &[u8; 16], iv: &[u8]) -> Block {
    use ghash::universal_hash::{KeyInit, UniversalHash};
    let mut j0 = Block::default();
    if iv.len() == 12 {
        j0[..12].copy_from_slice(iv);
        j0[15] = 1;
    } else {
        let mut gh = ghash::GHash::new(ghash::Key::from_slice(h));
        gh.update_padded(iv);
        let mut lens = Block::default();
        lens[8..].copy_from_slice(&((iv.len() as u64) * 8).to_be_bytes());
        gh.update(&[lens]);
        j0 = gh.finalize();
    }
    j0
}

/// Test helper: raw GCM encryption with any key size (16/32) and IV length.
/// Returns (H, J0, tag).
#[cfg(test)]
pub(super) fn encrypt_raw(key: &[u8], iv: &[u8], aad: &[u8], data: &mut [u8]) -> ([u8; 16], Block, [u8; 16]) {
    let h = hash_subkey(key);
    let j0 = j0_for_iv(&h, iv);
    let engine = espgw_crypto::GcmKey::new(key).expect("key length");
    let tag = engine.seal_with_iv(iv, aad, data);
    (h, j0, tag)
}

/// Test helper: raw GCM decryption (verify-then-decrypt).
#[cfg(test)]
pub(super) fn decrypt_raw(key: &[u8], iv: &[u8], aad: &[u8], data: &mut [u8], tag: &[u8]) -> bool {
    let engine = espgw_crypto::GcmKey::new(key).expect("key length");
    let Ok(tag) = <&[u8; ICV_LEN]>::try_from(tag) else {
        return false;
    };
    engine.open_with_iv(iv, aad, data, tag)
}

/// H = E(K, 0^128) through the `aes` crate (for the spec's H column).
#[cfg(test)]
fn hash_subkey(key: &[u8]) -> [u8; 16] {
    use aes::cipher::{BlockEncrypt, KeyInit};
    let mut b = Block::default();
    match key.len() {
        16 => aes::Aes128Enc::new_from_slice(key).expect("key").encrypt_block(&mut b),
        _ => aes::Aes256Enc::new_from_slice(key).expect("key").encrypt_block(&mut b),
    }
    b.into()
}
