//! AES-CBC (RFC 3602) with HMAC-SHA1-96 / HMAC-SHA-256-128, encrypt-then-MAC
//! as ESP does it: the ICV covers SPI | Seq | IV | ciphertext (‖ SeqHi with
//! ESN) and is checked before anything is decrypted.

use aes::cipher::consts::U16;
use aes::cipher::{BlockDecrypt, BlockEncrypt, BlockSizeUser, KeyInit};
use aes::{Aes128, Aes256, Block};
use zeroize::Zeroize;

use super::integ::{esp_parts, Integ};

/// Explicit per-packet IV (one AES block).
pub(super) const IV_LEN: usize = 16;
/// AES block size.
pub(super) const BLOCK_LEN: usize = 16;
/// Blocks handed to the parallel `decrypt_blocks` at once.
const CHUNK_BLOCKS: usize = 8;

/// AES key schedule (both directions). The `aes` crate's `zeroize` feature
/// wipes it on drop. Held once per SA, so the 128/256 size difference is
/// kept inline rather than boxed (no extra indirection per packet).
#[allow(clippy::large_enum_variant)]
pub(super) enum CbcCipher {
    A128(Aes128),
    A256(Aes256),
}

impl CbcCipher {
    pub(super) fn new(key: &[u8]) -> Option<CbcCipher> {
        match key.len() {
            16 => Aes128::new_from_slice(key).ok().map(CbcCipher::A128),
            32 => Aes256::new_from_slice(key).ok().map(CbcCipher::A256),
            _ => None,
        }
    }

    /// CBC-encrypts `data` (a multiple of 16 bytes; a trailing partial block
    /// is left untouched) in place.
    pub(super) fn encrypt(&self, iv: &[u8], data: &mut [u8]) {
        match self {
            CbcCipher::A128(c) => cbc_encrypt(c, iv, data),
            CbcCipher::A256(c) => cbc_encrypt(c, iv, data),
        }
    }

    /// CBC-decrypts `data` (a multiple of 16 bytes) in place, 8 blocks per
    /// cipher call.
    pub(super) fn decrypt(&self, iv: &[u8], data: &mut [u8]) {
        match self {
            CbcCipher::A128(c) => cbc_decrypt(c, iv, data),
            CbcCipher::A256(c) => cbc_decrypt(c, iv, data),
        }
    }
}

fn iv_block(iv: &[u8]) -> Block {
    let mut b = Block::default();
    for (d, s) in b.iter_mut().zip(iv.iter()) {
        *d = *s;
    }
    b
}

fn cbc_encrypt<C>(cipher: &C, iv: &[u8], data: &mut [u8])
where
    C: BlockEncrypt + BlockSizeUser<BlockSize = U16>,
{
    let mut chain = iv_block(iv);
    for blk in data.chunks_exact_mut(BLOCK_LEN) {
        for (c, p) in chain.iter_mut().zip(blk.iter()) {
            *c ^= *p;
        }
        cipher.encrypt_block(&mut chain);
        blk.copy_from_slice(&chain);
    }
}

fn cbc_decrypt<C>(cipher: &C, iv: &[u8], data: &mut [u8])
where
    C: BlockDecrypt + BlockSizeUser<BlockSize = U16>,
{
    let whole = data.len() - data.len() % BLOCK_LEN;
    let data = &mut data[..whole];
    let mut prev = iv_block(iv);
    let mut buf = [Block::default(); CHUNK_BLOCKS];
    for chunk in data.chunks_mut(BLOCK_LEN * CHUNK_BLOCKS) {
        let n = chunk.len() / BLOCK_LEN;
        for (b, c) in buf[..n].iter_mut().zip(chunk.chunks_exact(BLOCK_LEN)) {
            b.copy_from_slice(c);
        }
        let next_prev = buf[n - 1];
        cipher.decrypt_blocks(&mut buf[..n]);
        // P_i = D(C_i) xor C_{i-1}: go backwards so C_{i-1} is still in place.
        for i in (0..n).rev() {
            let (head, tail) = chunk.split_at_mut(i * BLOCK_LEN);
            let chain: &[u8] = if i == 0 { &prev } else { &head[(i - 1) * BLOCK_LEN..] };
            for ((o, d), c) in tail[..BLOCK_LEN].iter_mut().zip(buf[i].iter()).zip(chain.iter()) {
                *o = d ^ c;
            }
        }
        prev = next_prev;
    }
    for b in buf.iter_mut() {
        b.as_mut_slice().zeroize();
    }
}

/// Keyed state of one AES-CBC + HMAC transform. Both fields wipe themselves
/// on drop.
pub(super) struct CbcHmacKey {
    pub(super) cipher: CbcCipher,
    pub(super) integ: Integ,
}

impl CbcHmacKey {
    pub(super) fn new(cipher: CbcCipher, integ: Integ) -> CbcHmacKey {
        CbcHmacKey { cipher, integ }
    }

    pub(super) fn seal(&self, esp: &mut [u8], ct_start: usize, icv_start: usize, esn: Option<u32>) {
        {
            let (hdr, rest) = esp.split_at_mut(ct_start);
            self.cipher.encrypt(&hdr[super::ESP_HEADER_LEN..], &mut rest[..icv_start - ct_start]);
        }
        let (authed, icv) = esp.split_at_mut(icv_start);
        let hi = super::esn_bytes(esn);
        self.integ.sign(&esp_parts(authed, &hi), icv);
    }

    pub(super) fn open(&self, esp: &mut [u8], ct_start: usize, icv_start: usize, esn: Option<u32>) -> bool {
        let hi = super::esn_bytes(esn);
        let (authed, icv) = esp.split_at(icv_start);
        if !self.integ.verify(&esp_parts(authed, &hi), icv) {
            return false;
        }
        let (hdr, rest) = esp.split_at_mut(ct_start);
        self.cipher.decrypt(&hdr[super::ESP_HEADER_LEN..], &mut rest[..icv_start - ct_start]);
        true
    }
}
