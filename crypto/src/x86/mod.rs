//! The x86-64 SIMD backends. One driver (`driver.rs`, a macro) is expanded in
//! each backend module over that module's vector type `V` of `L` blocks and
//! its primitives, with the module's target features on every function, so
//! the whole per-packet path is compiled for exactly the instructions that
//! were detected (and nothing wider leaks into the narrower backends).
//!
//! Entry into a backend is the only `unsafe` step: calling a
//! `#[target_feature]` function from code compiled without those features.
//! A [`SimdKey`] is only built for a backend [`available`] on this CPU, and
//! the backend is fixed for the key's life, so every such call is sound.

use std::arch::x86_64::*;
use std::sync::OnceLock;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{poly, Backend, Job, TAG_LEN};

#[macro_use]
mod driver;
mod aesni;
mod vaes256;
mod vaes512;

/// Whether the CPU has the instructions of `b` (detected once).
pub(crate) fn available(b: Backend) -> bool {
    static FEATURES: OnceLock<[bool; 3]> = OnceLock::new();
    let f = FEATURES.get_or_init(|| {
        let aesni = is_x86_feature_detected!("aes")
            && is_x86_feature_detected!("pclmulqdq")
            && is_x86_feature_detected!("ssse3")
            && is_x86_feature_detected!("sse4.1");
        let vaes = aesni
            && is_x86_feature_detected!("avx")
            && is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("vaes")
            && is_x86_feature_detected!("vpclmulqdq");
        let avx512 = vaes
            && is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vl");
        [aesni, vaes, avx512]
    });
    match b {
        Backend::AesNi => f[0],
        Backend::Vaes256 => f[1],
        Backend::Vaes512 => f[2],
        Backend::Soft => true,
    }
}

/// Key material of the SIMD backends, in memory; each call loads (and
/// broadcasts) it into registers once.
pub(crate) struct SimdKey {
    backend: Backend,
    /// 10 (AES-128) or 14 (AES-256).
    nr: usize,
    /// Round keys 0..=nr.
    rk: [[u8; 16]; 15],
    /// `poly::power_table`, each entry as 16 little-endian bytes.
    htab: [u8; 16 * poly::TABLE],
    /// H = E(K, 0^128).
    h: [u8; 16],
}

impl Zeroize for SimdKey {
    fn zeroize(&mut self) {
        self.rk.zeroize();
        self.htab.zeroize();
        self.h.zeroize();
    }
}

impl Drop for SimdKey {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for SimdKey {}

/// Calls `$f::<NR>` of the key's backend.
macro_rules! dispatch {
    ($key:ident, $f:ident ( $($arg:expr),* )) => {
        // SAFETY: `$key.backend` was checked with `available` in
        // `SimdKey::new` before the key was built, so the CPU has every target
        // feature of the backend's functions.
        unsafe {
            match ($key.backend, $key.nr) {
                (Backend::Vaes512, 10) => vaes512::$f::<10>($key, $($arg),*),
                (Backend::Vaes512, _) => vaes512::$f::<14>($key, $($arg),*),
                (Backend::Vaes256, 10) => vaes256::$f::<10>($key, $($arg),*),
                (Backend::Vaes256, _) => vaes256::$f::<14>($key, $($arg),*),
                (_, 10) => aesni::$f::<10>($key, $($arg),*),
                (_, _) => aesni::$f::<14>($key, $($arg),*),
            }
        }
    };
}

impl SimdKey {
    /// `None` unless `key` is 16 or 32 bytes and `backend` is a SIMD backend
    /// this CPU runs.
    pub(crate) fn new(key: &[u8], backend: Backend) -> Option<SimdKey> {
        if backend == Backend::Soft || !available(backend) || !matches!(key.len(), 16 | 32) {
            return None;
        }
        let mut k = SimdKey { backend, nr: 0, rk: [[0; 16]; 15], htab: [0; 16 * poly::TABLE], h: [0; 16] };
        // SAFETY: every SIMD backend needs AES-NI, checked just above.
        unsafe {
            k.nr = aesni::expand_key(key, &mut k.rk);
            k.h = aesni::encrypt_block(&k.rk, k.nr, &[0; 16]);
        }
        let mut t = poly::power_table(&k.h);
        for (d, p) in k.htab.chunks_exact_mut(16).zip(t.iter()) {
            d.copy_from_slice(&p.to_le_bytes());
        }
        t.zeroize();
        Some(k)
    }

    pub(crate) fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn hash_subkey(&self) -> [u8; 16] {
        self.h
    }

    pub(crate) fn seal(&self, j0: &[u8; 16], aad: &[u8], data: &mut [u8]) -> [u8; TAG_LEN] {
        dispatch!(self, seal(j0, aad, data))
    }

    pub(crate) fn open(&self, j0: &[u8; 16], aad: &[u8], data: &mut [u8], tag: &[u8; TAG_LEN]) -> bool {
        dispatch!(self, open(j0, aad, data, tag))
    }

    pub(crate) fn seal_packed(&self, j0: u128, aad: u128, aad_len: usize, data: &mut [u8]) -> [u8; TAG_LEN] {
        dispatch!(self, seal_packed(j0, aad, aad_len, data))
    }

    pub(crate) fn open_packed(
        &self,
        j0: u128,
        aad: u128,
        aad_len: usize,
        data: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> bool {
        dispatch!(self, open_packed(j0, aad, aad_len, data, tag))
    }

    pub(crate) fn seal_many(&self, jobs: &mut [Job<'_>]) {
        dispatch!(self, seal_many(jobs))
    }

    pub(crate) fn open_many(&self, jobs: &mut [Job<'_>]) {
        dispatch!(self, open_many(jobs))
    }
}

/// The AAD of one call: bytes in memory, or (for at most 16 bytes) a block already in a
/// vector, byte-reversed for GHASH, with its length in bytes, the bytes past it zero. (The
/// reversal is done by the caller: a vector made only of two integers is stored as two
/// 8-byte halves when passed through memory, and reading it back as one vector stalls.)
#[derive(Clone, Copy)]
pub(crate) enum Aad<'a> {
    Bytes(&'a [u8]),
    Block(__m128i, usize),
}

impl Aad<'_> {
    fn len(&self) -> usize {
        match self {
            Aad::Bytes(b) => b.len(),
            Aad::Block(_, n) => *n,
        }
    }
}

/// Loads 16 bytes (unaligned) from the start of `s`.
#[inline(always)]
fn load128(s: &[u8]) -> __m128i {
    assert!(s.len() >= 16);
    // SAFETY: `s` has at least 16 readable bytes; the load is unaligned.
    unsafe { _mm_loadu_si128(s.as_ptr().cast()) }
}

/// Stores 16 bytes (unaligned) at the start of `s`.
#[inline(always)]
fn store128(s: &mut [u8], v: __m128i) {
    assert!(s.len() >= 16);
    // SAFETY: `s` has at least 16 writable bytes; the store is unaligned.
    unsafe { _mm_storeu_si128(s.as_mut_ptr().cast(), v) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drop runs this `Zeroize`: round keys, key powers and H read back as zero.
    #[test]
    fn key_material_is_wiped() {
        for b in [Backend::Vaes512, Backend::Vaes256, Backend::AesNi] {
            for len in [16, 32] {
                let Some(mut k) = SimdKey::new(&vec![0x3c; len], b) else { continue };
                assert!(k.rk.iter().flatten().any(|&x| x != 0) && k.htab.iter().any(|&x| x != 0));
                k.zeroize();
                assert!(k.rk.iter().flatten().chain(&k.htab).chain(&k.h).all(|&x| x == 0), "{b:?}");
            }
        }
    }
}
