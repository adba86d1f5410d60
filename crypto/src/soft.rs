//! The portable backend: the `aes` block cipher (8 blocks per call through
//! its parallel `encrypt_blocks`) and the `ghash` universal hash. It is also
//! the oracle the SIMD backends are tested against, so it stays simple:
//! verify-then-decrypt, no stitching.

use aes::cipher::consts::U16;
use aes::cipher::{BlockEncrypt, BlockSizeUser, KeyInit};
use aes::{Aes128Enc, Aes256Enc, Block};
use ghash::universal_hash::UniversalHash;
use ghash::GHash;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{len_block, tags_equal, TAG_LEN};

const CHUNK_BLOCKS: usize = 8;
const CHUNK_LEN: usize = 16 * CHUNK_BLOCKS;

/// Encrypt-only key schedule; the `aes` crate's `zeroize` feature wipes it.
#[allow(clippy::large_enum_variant)]
enum AesEnc {
    A128(Aes128Enc),
    A256(Aes256Enc),
}

pub(crate) struct SoftKey {
    cipher: AesEnc,
    /// H = E(K, 0^128).
    pub(crate) h: [u8; 16],
}

impl Drop for SoftKey {
    fn drop(&mut self) {
        self.h.zeroize();
    }
}

impl ZeroizeOnDrop for SoftKey {}

impl SoftKey {
    pub(crate) fn new(key: &[u8]) -> Option<SoftKey> {
        let cipher = match key.len() {
            16 => AesEnc::A128(Aes128Enc::new_from_slice(key).ok()?),
            32 => AesEnc::A256(Aes256Enc::new_from_slice(key).ok()?),
            _ => return None,
        };
        let mut b = Block::default();
        encrypt1(&cipher, &mut b);
        let mut h = [0u8; 16];
        h.copy_from_slice(&b);
        b.as_mut_slice().zeroize();
        Some(SoftKey { cipher, h })
    }

    pub(crate) fn seal(&self, j0: &[u8; 16], aad: &[u8], data: &mut [u8]) -> [u8; TAG_LEN] {
        match &self.cipher {
            AesEnc::A128(c) => seal_with(c, &self.h, j0, aad, data),
            AesEnc::A256(c) => seal_with(c, &self.h, j0, aad, data),
        }
    }

    pub(crate) fn open(&self, j0: &[u8; 16], aad: &[u8], data: &mut [u8], tag: &[u8; TAG_LEN]) -> bool {
        let mut gh = GHash::new(ghash::Key::from_slice(&self.h));
        gh.update_padded(aad);
        gh.update_padded(data);
        let mut expected = match &self.cipher {
            AesEnc::A128(c) => finish(c, gh, j0, aad.len(), data.len()),
            AesEnc::A256(c) => finish(c, gh, j0, aad.len(), data.len()),
        };
        let ok = tags_equal(&expected, tag);
        expected.zeroize();
        if ok {
            match &self.cipher {
                AesEnc::A128(c) => ctr(c, j0, data),
                AesEnc::A256(c) => ctr(c, j0, data),
            }
        }
        ok
    }
}

fn encrypt1(cipher: &AesEnc, b: &mut Block) {
    match cipher {
        AesEnc::A128(c) => c.encrypt_block(b),
        AesEnc::A256(c) => c.encrypt_block(b),
    }
}

/// GHASH(H, {}, IV) ‖ lengths: J0 for IVs other than 96 bits.
pub(crate) fn ghash_iv(h: &[u8; 16], iv: &[u8]) -> [u8; 16] {
    let mut gh = GHash::new(ghash::Key::from_slice(h));
    gh.update_padded(iv);
    gh.update(&[len_block(0, iv.len()).into()]);
    gh.finalize().into()
}

/// XORs the CTR keystream from inc32(J0) on into `data`, 8 blocks per call.
fn ctr<C>(cipher: &C, j0: &[u8; 16], data: &mut [u8])
where
    C: BlockEncrypt + BlockSizeUser<BlockSize = U16>,
{
    let mut c = u32::from_be_bytes([j0[12], j0[13], j0[14], j0[15]]).wrapping_add(1);
    let mut ks = [Block::default(); CHUNK_BLOCKS];
    for chunk in data.chunks_mut(CHUNK_LEN) {
        let n = chunk.len().div_ceil(16);
        for b in ks[..n].iter_mut() {
            b[..12].copy_from_slice(&j0[..12]);
            b[12..].copy_from_slice(&c.to_be_bytes());
            c = c.wrapping_add(1);
        }
        cipher.encrypt_blocks(&mut ks[..n]);
        for (d, k) in chunk.chunks_mut(16).zip(ks.iter()) {
            if let Ok(d16) = <&mut [u8; 16]>::try_from(&mut *d) {
                // A whole block: one 128-bit XOR.
                let x = u128::from_ne_bytes(*d16) ^ u128::from_ne_bytes((*k).into());
                *d16 = x.to_ne_bytes();
            } else {
                for (a, b) in d.iter_mut().zip(k.iter()) {
                    *a ^= *b;
                }
            }
        }
    }
    for b in ks.iter_mut() {
        b.as_mut_slice().zeroize();
    }
}

fn finish<C>(cipher: &C, mut gh: GHash, j0: &[u8; 16], aad_len: usize, data_len: usize) -> [u8; TAG_LEN]
where
    C: BlockEncrypt + BlockSizeUser<BlockSize = U16>,
{
    gh.update(&[len_block(aad_len, data_len).into()]);
    let s = gh.finalize();
    let mut ekj0 = Block::from(*j0);
    cipher.encrypt_block(&mut ekj0);
    let mut tag = [0u8; TAG_LEN];
    for ((t, a), b) in tag.iter_mut().zip(s.iter()).zip(ekj0.iter()) {
        *t = a ^ b;
    }
    ekj0.as_mut_slice().zeroize();
    tag
}

fn seal_with<C>(cipher: &C, h: &[u8; 16], j0: &[u8; 16], aad: &[u8], data: &mut [u8]) -> [u8; TAG_LEN]
where
    C: BlockEncrypt + BlockSizeUser<BlockSize = U16>,
{
    ctr(cipher, j0, data);
    let mut gh = GHash::new(ghash::Key::from_slice(h));
    gh.update_padded(aad);
    gh.update_padded(data);
    finish(cipher, gh, j0, aad.len(), data.len())
}
