//! AES-GCM (NIST SP 800-38D) built on the `aes` block cipher and the `ghash`
//! universal hash, and its ESP use (RFC 4106).
//!
//! * counter blocks: J0 = salt ‖ IV ‖ 0x00000001 for ESP (96-bit nonce);
//!   data is CTR-encrypted from inc32(J0) on (counter 2), 8 blocks at a time
//!   through the cipher's parallel `encrypt_blocks`;
//! * tag = GHASH(H, AAD, C) xor E(K, J0), H = E(K, 0^128);
//! * ESP AAD = SPI ‖ SeqLo, or SPI ‖ SeqHi ‖ SeqLo with ESN (RFC 4106 §5).

use aes::cipher::consts::U16;
use aes::cipher::{BlockEncrypt, BlockSizeUser, KeyInit};
use aes::{Aes128Enc, Aes256Enc, Block};
use ghash::universal_hash::UniversalHash;
use ghash::GHash;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Explicit IV carried in each ESP packet (RFC 4106 §3.1).
pub(super) const IV_LEN: usize = 8;
/// Implicit salt taken from the end of the key material (RFC 4106 §8.1).
pub(super) const SALT_LEN: usize = 4;
/// ICV length of the "16" variants.
pub(super) const ICV_LEN: usize = 16;
/// GCM block size.
const BLOCK_LEN: usize = 16;
/// CTR blocks computed per `encrypt_blocks` call.
const CHUNK_BLOCKS: usize = 8;
const CHUNK_LEN: usize = BLOCK_LEN * CHUNK_BLOCKS;

/// Encrypt-only AES key schedule (GCM never runs the inverse cipher).
/// The `aes` crate's `zeroize` feature wipes it on drop. Held once per SA,
/// so the 128/256 size difference is kept inline (no indirection per packet).
#[allow(clippy::large_enum_variant)]
pub(super) enum AesEnc {
    A128(Aes128Enc),
    A256(Aes256Enc),
}

impl AesEnc {
    pub(super) fn new(key: &[u8]) -> Option<AesEnc> {
        match key.len() {
            16 => Aes128Enc::new_from_slice(key).ok().map(AesEnc::A128),
            32 => Aes256Enc::new_from_slice(key).ok().map(AesEnc::A256),
            _ => None,
        }
    }

    /// H = E(K, 0^128).
    fn hash_subkey(&self) -> [u8; 16] {
        let mut b = Block::default();
        match self {
            AesEnc::A128(c) => c.encrypt_block(&mut b),
            AesEnc::A256(c) => c.encrypt_block(&mut b),
        }
        let mut h = [0u8; 16];
        h.copy_from_slice(&b);
        b.as_mut_slice().zeroize();
        h
    }
}

/// Keyed state of one AES-GCM-16 ESP transform.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(super) struct GcmKey {
    /// Wipes itself on drop (`aes` with `zeroize`).
    #[zeroize(skip)]
    pub(super) cipher: AesEnc,
    /// Precomputed GHASH key H = E(K, 0^128).
    pub(super) h: [u8; 16],
    /// RFC 4106 salt (last 4 bytes of the key material).
    pub(super) salt: [u8; SALT_LEN],
}

impl GcmKey {
    /// `enc_key` = AES key ‖ 4-byte salt (20 or 36 bytes).
    pub(super) fn new(enc_key: &[u8]) -> Option<GcmKey> {
        let split = enc_key.len().checked_sub(SALT_LEN)?;
        let (key, salt_bytes) = enc_key.split_at(split);
        let cipher = AesEnc::new(key)?;
        let h = cipher.hash_subkey();
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(salt_bytes);
        Some(GcmKey { cipher, h, salt })
    }

    /// J0 and the AAD for the packet whose header (SPI | Seq | IV) is `hdr`.
    fn j0_and_aad(&self, hdr: &[u8], esn: Option<u32>) -> (Block, [u8; 12], usize) {
        let mut j0 = Block::default();
        j0[..SALT_LEN].copy_from_slice(&self.salt);
        j0[SALT_LEN..12].copy_from_slice(&hdr[8..8 + IV_LEN]);
        j0[12..].copy_from_slice(&1u32.to_be_bytes());
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
        (j0, aad, aad_len)
    }

    /// `esp[..ct_start]` = SPI | Seq | IV, `esp[ct_start..icv_start]` =
    /// plaintext, `esp[icv_start..]` = 16 bytes of ICV space.
    pub(super) fn seal(&self, esp: &mut [u8], ct_start: usize, icv_start: usize, esn: Option<u32>) {
        let (hdr, rest) = esp.split_at_mut(ct_start);
        let (ct, icv) = rest.split_at_mut(icv_start - ct_start);
        let (j0, aad, aad_len) = self.j0_and_aad(hdr, esn);
        let tag = match &self.cipher {
            AesEnc::A128(c) => seal_j0(c, &self.h, &j0, &aad[..aad_len], ct),
            AesEnc::A256(c) => seal_j0(c, &self.h, &j0, &aad[..aad_len], ct),
        };
        for (d, s) in icv.iter_mut().zip(tag.iter()) {
            *d = *s;
        }
    }

    /// Verifies the tag over the ciphertext and only then decrypts it.
    pub(super) fn open(&self, esp: &mut [u8], ct_start: usize, icv_start: usize, esn: Option<u32>) -> bool {
        let (hdr, rest) = esp.split_at_mut(ct_start);
        let (ct, icv) = rest.split_at_mut(icv_start - ct_start);
        let (j0, aad, aad_len) = self.j0_and_aad(hdr, esn);
        match &self.cipher {
            AesEnc::A128(c) => open_j0(c, &self.h, &j0, &aad[..aad_len], ct, icv),
            AesEnc::A256(c) => open_j0(c, &self.h, &j0, &aad[..aad_len], ct, icv),
        }
    }
}

/// XORs the keystream for counter blocks `prefix ‖ ctr, ctr+1, ...` into
/// `chunk` (at most `CHUNK_LEN` bytes). Returns the next counter value.
#[inline]
fn ctr_chunk<C>(cipher: &C, prefix: &[u8], ctr: u32, chunk: &mut [u8], ks: &mut [Block; CHUNK_BLOCKS]) -> u32
where
    C: BlockEncrypt + BlockSizeUser<BlockSize = U16>,
{
    let nblocks = chunk.len().div_ceil(BLOCK_LEN).min(CHUNK_BLOCKS);
    for (i, b) in ks[..nblocks].iter_mut().enumerate() {
        b[..12].copy_from_slice(prefix);
        b[12..].copy_from_slice(&ctr.wrapping_add(i as u32).to_be_bytes());
    }
    cipher.encrypt_blocks(&mut ks[..nblocks]);
    for (d, k) in chunk.chunks_mut(BLOCK_LEN).zip(ks.iter()) {
        for (x, y) in d.iter_mut().zip(k.iter()) {
            *x ^= *y;
        }
    }
    ctr.wrapping_add(nblocks as u32)
}

fn wipe(ks: &mut [Block]) {
    for b in ks {
        b.as_mut_slice().zeroize();
    }
}

/// GHASH length block and final tag: GHASH(...) xor E(K, J0).
fn finish<C>(cipher: &C, mut gh: GHash, j0: &Block, aad_len: usize, ct_len: usize) -> [u8; 16]
where
    C: BlockEncrypt + BlockSizeUser<BlockSize = U16>,
{
    let mut lens = Block::default();
    lens[..8].copy_from_slice(&((aad_len as u64) * 8).to_be_bytes());
    lens[8..].copy_from_slice(&((ct_len as u64) * 8).to_be_bytes());
    gh.update(&[lens]);
    let s = gh.finalize();
    let mut ekj0 = *j0;
    cipher.encrypt_block(&mut ekj0);
    let mut tag = [0u8; 16];
    for ((t, a), b) in tag.iter_mut().zip(s.iter()).zip(ekj0.iter()) {
        *t = a ^ b;
    }
    ekj0.as_mut_slice().zeroize();
    tag
}

fn new_ghash(h: &[u8; 16]) -> GHash {
    GHash::new(ghash::Key::from_slice(h))
}

/// Counter prefix (first 12 bytes of J0) and the first data counter inc32(J0).
fn counter_start(j0: &Block) -> ([u8; 12], u32) {
    let mut prefix = [0u8; 12];
    prefix.copy_from_slice(&j0[..12]);
    let mut c = [0u8; 4];
    c.copy_from_slice(&j0[12..]);
    (prefix, u32::from_be_bytes(c).wrapping_add(1))
}

/// Encrypts `data` in place and returns the tag. CTR and GHASH run over the
/// same 128-byte chunk back to back, so the data is touched once.
pub(super) fn seal_j0<C>(cipher: &C, h: &[u8; 16], j0: &Block, aad: &[u8], data: &mut [u8]) -> [u8; 16]
where
    C: BlockEncrypt + BlockSizeUser<BlockSize = U16>,
{
    let mut gh = new_ghash(h);
    gh.update_padded(aad);
    let (prefix, mut ctr) = counter_start(j0);
    let mut ks = [Block::default(); CHUNK_BLOCKS];
    // Every chunk but the last is a whole number of blocks, so padding each
    // chunk separately equals padding the whole ciphertext once.
    for chunk in data.chunks_mut(CHUNK_LEN) {
        ctr = ctr_chunk(cipher, &prefix, ctr, chunk, &mut ks);
        gh.update_padded(chunk);
    }
    wipe(&mut ks);
    finish(cipher, gh, j0, aad.len(), data.len())
}

/// Computes the tag over the ciphertext `data`, compares it with `tag` in
/// constant time and, only if it matches, decrypts `data` in place.
pub(super) fn open_j0<C>(
    cipher: &C,
    h: &[u8; 16],
    j0: &Block,
    aad: &[u8],
    data: &mut [u8],
    tag: &[u8],
) -> bool
where
    C: BlockEncrypt + BlockSizeUser<BlockSize = U16>,
{
    let mut gh = new_ghash(h);
    gh.update_padded(aad);
    gh.update_padded(data);
    let mut expected = finish(cipher, gh, j0, aad.len(), data.len());
    let ok: bool = expected[..].ct_eq(tag).into();
    expected.zeroize();
    if !ok {
        return false;
    }
    let (prefix, mut ctr) = counter_start(j0);
    let mut ks = [Block::default(); CHUNK_BLOCKS];
    for chunk in data.chunks_mut(CHUNK_LEN) {
        ctr = ctr_chunk(cipher, &prefix, ctr, chunk, &mut ks);
    }
    wipe(&mut ks);
    true
}

/// Generic-IV GCM (any IV length, as in the GCM spec's test cases 5/6):
/// J0 = IV ‖ 0^31 ‖ 1 for 96-bit IVs, else GHASH(H, {}, IV).
#[cfg(test)]
pub(super) fn j0_for_iv(h: &[u8; 16], iv: &[u8]) -> Block {
    let mut j0 = Block::default();
    if iv.len() == 12 {
        j0[..12].copy_from_slice(iv);
        j0[15] = 1;
    } else {
        let mut gh = new_ghash(h);
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
    let cipher = AesEnc::new(key).expect("key length");
    let h = cipher.hash_subkey();
    let j0 = j0_for_iv(&h, iv);
    let tag = match &cipher {
        AesEnc::A128(c) => seal_j0(c, &h, &j0, aad, data),
        AesEnc::A256(c) => seal_j0(c, &h, &j0, aad, data),
    };
    (h, j0, tag)
}

/// Test helper: raw GCM decryption (verify-then-decrypt).
#[cfg(test)]
pub(super) fn decrypt_raw(key: &[u8], iv: &[u8], aad: &[u8], data: &mut [u8], tag: &[u8]) -> bool {
    let cipher = AesEnc::new(key).expect("key length");
    let h = cipher.hash_subkey();
    let j0 = j0_for_iv(&h, iv);
    match &cipher {
        AesEnc::A128(c) => open_j0(c, &h, &j0, aad, data, tag),
        AesEnc::A256(c) => open_j0(c, &h, &j0, aad, data, tag),
    }
}
