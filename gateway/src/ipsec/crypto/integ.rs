//! HMAC (RFC 2104) over SHA-1 and SHA-256, truncated for ESP and AH
//! (HMAC-SHA1-96, RFC 2404; HMAC-SHA-256-128, RFC 4868).
//!
//! Built on the raw compression functions of the `sha1` / `sha2` crates so
//! that the precomputed inner and outer chaining values (H(K ^ ipad),
//! H(K ^ opad)) are our own fields and are wiped on drop; the per-packet
//! cost is then only the message blocks plus one outer block.

use sha2::digest::generic_array::GenericArray;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Block size of both SHA-1 and SHA-256.
const BLOCK_LEN: usize = 64;
/// Largest digest produced here (SHA-256).
pub(super) const MAX_DIGEST_LEN: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum HashKind {
    Sha1,
    Sha256,
}

/// A chaining value of SHA-1 or SHA-256.
#[derive(Clone, Zeroize)]
pub(super) enum State {
    Sha1([u32; 5]),
    Sha256([u32; 8]),
}

impl State {
    fn initial(kind: HashKind) -> State {
        match kind {
            HashKind::Sha1 => State::Sha1([0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476, 0xc3d2_e1f0]),
            HashKind::Sha256 => State::Sha256([
                0x6a09_e667,
                0xbb67_ae85,
                0x3c6e_f372,
                0xa54f_f53a,
                0x510e_527f,
                0x9b05_688c,
                0x1f83_d9ab,
                0x5be0_cd19,
            ]),
        }
    }

    #[inline]
    fn compress(&mut self, block: &[u8; BLOCK_LEN]) {
        let b = GenericArray::from_slice(block);
        match self {
            State::Sha1(s) => sha1::compress(s, core::slice::from_ref(b)),
            State::Sha256(s) => sha2::compress256(s, core::slice::from_ref(b)),
        }
    }

    /// Writes the big-endian digest into `out` and returns its length.
    fn write_digest(&self, out: &mut [u8; MAX_DIGEST_LEN]) -> usize {
        let words: &[u32] = match self {
            State::Sha1(s) => s,
            State::Sha256(s) => s,
        };
        for (o, w) in out.chunks_exact_mut(4).zip(words.iter()) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        words.len() * 4
    }

    #[cfg(test)]
    pub(super) fn words(&self) -> &[u32] {
        match self {
            State::Sha1(s) => s,
            State::Sha256(s) => s,
        }
    }
}

/// Streaming Merkle–Damgård hashing from a given chaining value.
#[derive(Zeroize, ZeroizeOnDrop)]
struct Hasher {
    state: State,
    buf: [u8; BLOCK_LEN],
    buf_len: usize,
    /// Bytes hashed so far, including any blocks already folded into `state`.
    total: u64,
}

impl Hasher {
    fn new(state: State, already: u64) -> Hasher {
        Hasher { state, buf: [0u8; BLOCK_LEN], buf_len: 0, total: already }
    }

    fn update(&mut self, mut data: &[u8]) {
        self.total = self.total.wrapping_add(data.len() as u64);
        if self.buf_len > 0 {
            let take = (BLOCK_LEN - self.buf_len).min(data.len());
            self.buf[self.buf_len..self.buf_len + take].copy_from_slice(&data[..take]);
            self.buf_len += take;
            data = &data[take..];
            if self.buf_len < BLOCK_LEN {
                return;
            }
            self.state.compress(&self.buf);
            self.buf_len = 0;
        }
        let mut blocks = data.chunks_exact(BLOCK_LEN);
        for b in &mut blocks {
            if let Ok(block) = <&[u8; BLOCK_LEN]>::try_from(b) {
                self.state.compress(block);
            }
        }
        let rest = blocks.remainder();
        self.buf[..rest.len()].copy_from_slice(rest);
        self.buf_len = rest.len();
    }

    /// MD padding (0x80, zeros, 64-bit big-endian bit length), then digest.
    fn finalize(mut self, out: &mut [u8; MAX_DIGEST_LEN]) -> usize {
        let bits = self.total.wrapping_mul(8);
        let mut n = self.buf_len;
        self.buf[n] = 0x80;
        n += 1;
        if n > BLOCK_LEN - 8 {
            self.buf[n..].fill(0);
            self.state.compress(&self.buf);
            n = 0;
        }
        self.buf[n..BLOCK_LEN - 8].fill(0);
        self.buf[BLOCK_LEN - 8..].copy_from_slice(&bits.to_be_bytes());
        self.state.compress(&self.buf);
        self.state.write_digest(out)
    }
}

/// Precomputed HMAC key: chaining values after the ipad / opad blocks.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(super) struct Integ {
    pub(super) inner: State,
    pub(super) outer: State,
}

impl Integ {
    /// Any key length (keys longer than a block are hashed first, RFC 2104).
    pub(super) fn new(kind: HashKind, key: &[u8]) -> Integ {
        let mut k0 = [0u8; BLOCK_LEN];
        if key.len() > BLOCK_LEN {
            let mut h = Hasher::new(State::initial(kind), 0);
            h.update(key);
            let mut d = [0u8; MAX_DIGEST_LEN];
            let n = h.finalize(&mut d);
            k0[..n].copy_from_slice(&d[..n]);
            d.zeroize();
        } else {
            k0[..key.len()].copy_from_slice(key);
        }
        let mut pad = [0u8; BLOCK_LEN];
        for (p, k) in pad.iter_mut().zip(k0.iter()) {
            *p = k ^ 0x36;
        }
        let mut inner = State::initial(kind);
        inner.compress(&pad);
        for (p, k) in pad.iter_mut().zip(k0.iter()) {
            *p = k ^ 0x5c;
        }
        let mut outer = State::initial(kind);
        outer.compress(&pad);
        pad.zeroize();
        k0.zeroize();
        Integ { inner, outer }
    }

    /// Full (untruncated) HMAC of the concatenation of `parts`; returns the
    /// digest length.
    pub(super) fn mac(&self, parts: &[&[u8]], out: &mut [u8; MAX_DIGEST_LEN]) -> usize {
        let mut h = Hasher::new(self.inner.clone(), BLOCK_LEN as u64);
        for p in parts {
            h.update(p);
        }
        let mut inner = [0u8; MAX_DIGEST_LEN];
        let n = h.finalize(&mut inner);
        let mut o = Hasher::new(self.outer.clone(), BLOCK_LEN as u64);
        o.update(&inner[..n]);
        inner.zeroize();
        o.finalize(out)
    }

    /// Writes the HMAC truncated to `icv.len()` bytes into `icv`.
    pub(super) fn sign(&self, parts: &[&[u8]], icv: &mut [u8]) {
        let mut full = [0u8; MAX_DIGEST_LEN];
        let n = self.mac(parts, &mut full);
        for (d, s) in icv.iter_mut().zip(full[..n].iter()) {
            *d = *s;
        }
        full.zeroize();
    }

    /// Constant-time check of a truncated HMAC.
    pub(super) fn verify(&self, parts: &[&[u8]], icv: &[u8]) -> bool {
        let mut full = [0u8; MAX_DIGEST_LEN];
        let n = self.mac(parts, &mut full);
        let ok = icv.len() <= n && bool::from(full[..icv.len()].ct_eq(icv));
        full.zeroize();
        ok
    }
}

/// The ICV input of an ESP packet: `authed` (SPI .. end of ciphertext) and,
/// with ESN, the high sequence half appended (RFC 4303 §3.3.2.1). AH appends
/// it the same way after the whole packet (RFC 4302 §2.5.1).
#[inline]
pub(super) fn esp_parts<'a>(authed: &'a [u8], esn: &'a Option<[u8; 4]>) -> [&'a [u8]; 2] {
    match esn {
        Some(hi) => [authed, &hi[..]],
        None => [authed, &[]],
    }
}
