//! AES-GCM (NIST SP 800-38D) for espgw's ESP data path.
//!
//! One [`GcmKey`] per SA direction: the AES round keys are expanded and the
//! GHASH key powers H^1..H^16 precomputed once, at key setup. Per packet the
//! engine runs AES-CTR and GHASH *stitched*: while one chunk of counter
//! blocks goes through the AES rounds, the previous chunk of ciphertext is
//! multiplied by the key powers (aggregated reduction: one modular reduction
//! per chunk), so the two instruction streams fill each other's latency.
//!
//! # Backends
//! Chosen once per process by CPU feature detection ([`Backend::detect`]), or
//! forced with [`GcmKey::with_backend`] (the tests run every backend the CPU
//! has):
//! * [`Backend::Vaes512`]: VAES + VPCLMULQDQ on zmm, 4 blocks per register,
//!   16 blocks (4 registers) per iteration;
//! * [`Backend::Vaes256`]: VAES + VPCLMULQDQ on ymm, 2 blocks per register,
//!   8 blocks per iteration;
//! * [`Backend::AesNi`]: AES-NI + PCLMULQDQ, 8 blocks per iteration;
//! * [`Backend::Soft`]: the `aes` and `ghash` crates (portable; the oracle).
//!
//! # Contracts
//! * Nonces are 96 bits (J0 = nonce ‖ 0^31 ‖ 1); [`GcmKey::seal_with_iv`] takes
//!   any other IV length (J0 = GHASH(H, {}, IV)), for the GCM spec's cases.
//! * Data may be any length up to 2^36 - 32 bytes (the GCM limit; longer
//!   panics), AAD any length. The 8- and 12-byte ESP AADs of short packets
//!   are folded into the same aggregated GHASH as the data.
//! * [`GcmKey::open`] leaves `data` exactly as received when the tag does not
//!   verify (the SIMD paths decrypt while hashing, and re-apply the keystream
//!   on failure; the portable path verifies before decrypting).
//! * Tags are compared in constant time. Key material is wiped on drop and
//!   never printed by `Debug`. Per call, round keys and key powers are
//!   loaded into vector registers (the compiler may spill some to the
//!   stack; those copies are not wiped). Without AVX-512 masked loads, the
//!   last partial vector of a packet passes through a small stack buffer
//!   holding packet bytes (plaintext or ciphertext), never keystream alone.
//!
//! # Bursts
//! [`GcmKey::seal_many`] / [`GcmKey::open_many`] load the key once for the
//! burst, and run consecutive short packets (shorter than a chunk, AAD at
//! most 16 bytes) whose vectors fit one chunk through a single AES batch:
//! four 64-byte packets fill the four zmm of one VAES-512 batch.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod poly;
mod soft;
#[cfg(target_arch = "x86_64")]
mod x86;

use std::fmt;
use std::sync::OnceLock;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// GCM tag length (the "16" ESP variants).
pub const TAG_LEN: usize = 16;
/// The 96-bit nonce length.
pub const NONCE_LEN: usize = 12;
/// Largest plaintext GCM allows: 2^32 - 2 blocks.
pub const MAX_DATA_LEN: u64 = (1u64 << 36) - 32;

/// An implementation of the engine. Every backend computes the same function;
/// they differ in the instructions they need.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// AVX-512 (F, BW, VL) + VAES + VPCLMULQDQ: 16 blocks per iteration in 4 zmm.
    Vaes512,
    /// AVX2 + VAES + VPCLMULQDQ: 8 blocks per iteration in 4 ymm.
    Vaes256,
    /// AES-NI + PCLMULQDQ (+ SSSE3/SSE4.1): 8 blocks per iteration.
    AesNi,
    /// Portable: the `aes` crate (which may use AES-NI itself) and `ghash`.
    Soft,
}

impl Backend {
    /// All backends, fastest first.
    pub const ALL: [Backend; 4] = [Backend::Vaes512, Backend::Vaes256, Backend::AesNi, Backend::Soft];

    /// Whether this CPU can run the backend (detected at run time).
    pub fn is_available(self) -> bool {
        match self {
            Backend::Soft => true,
            #[cfg(target_arch = "x86_64")]
            b => x86::available(b),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The fastest available backend; detected once per process.
    pub fn detect() -> Backend {
        static BEST: OnceLock<Backend> = OnceLock::new();
        *BEST.get_or_init(|| Backend::ALL.into_iter().find(|b| b.is_available()).unwrap_or(Backend::Soft))
    }
}

/// Keyed state of one backend.
enum Engine {
    Soft(soft::SoftKey),
    #[cfg(target_arch = "x86_64")]
    Simd(x86::SimdKey),
}

/// An expanded AES-GCM key (AES-128 or AES-256). Wiped on drop.
pub struct GcmKey {
    engine: Engine,
    /// GHASH key H = E(K, 0^128), kept for J0 of non-96-bit IVs.
    h: [u8; 16],
}

impl fmt::Debug for GcmKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GcmKey").field("backend", &self.backend()).finish_non_exhaustive()
    }
}

impl Drop for GcmKey {
    fn drop(&mut self) {
        // `Engine`'s variants wipe themselves on drop.
        self.h.zeroize();
    }
}

impl ZeroizeOnDrop for GcmKey {}

/// One packet of a burst: inputs, and the tag (output of a seal, input of an
/// open) and verdict.
#[derive(Debug)]
pub struct Job<'a> {
    /// The 96-bit nonce.
    pub nonce: [u8; NONCE_LEN],
    /// Additional authenticated data.
    pub aad: &'a [u8],
    /// Plaintext (seal) or ciphertext (open), transformed in place.
    pub data: &'a mut [u8],
    /// Written by [`GcmKey::seal_many`], checked by [`GcmKey::open_many`].
    pub tag: [u8; TAG_LEN],
    /// Set by both: `true` after a seal, whether the tag verified after an open.
    pub ok: bool,
}

impl GcmKey {
    /// Expands a 16- or 32-byte AES key for the fastest backend of this CPU.
    /// `None` for any other key length.
    pub fn new(key: &[u8]) -> Option<GcmKey> {
        GcmKey::with_backend(key, Backend::detect())
    }

    /// Expands `key` for a given backend. `None` if the key length is not 16
    /// or 32 bytes or the CPU lacks the backend's instructions.
    pub fn with_backend(key: &[u8], backend: Backend) -> Option<GcmKey> {
        if !matches!(key.len(), 16 | 32) || !backend.is_available() {
            return None;
        }
        let (engine, h) = match backend {
            Backend::Soft => {
                let k = soft::SoftKey::new(key)?;
                let h = k.h;
                (Engine::Soft(k), h)
            }
            #[cfg(target_arch = "x86_64")]
            b => {
                let k = x86::SimdKey::new(key, b)?;
                let h = k.hash_subkey();
                (Engine::Simd(k), h)
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => return None,
        };
        Some(GcmKey { engine, h })
    }

    /// The backend this key runs on.
    pub fn backend(&self) -> Backend {
        match &self.engine {
            Engine::Soft(_) => Backend::Soft,
            #[cfg(target_arch = "x86_64")]
            Engine::Simd(k) => k.backend(),
        }
    }

    /// Encrypts `data` in place and returns the tag.
    ///
    /// # Panics
    /// If `data` is longer than [`MAX_DATA_LEN`].
    pub fn seal(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], data: &mut [u8]) -> [u8; TAG_LEN] {
        // A short AAD (ESP's 8 or 12 bytes) and the nonce go in as integers read straight from
        // the caller's bytes: nothing is assembled in memory and loaded back (a stalled load).
        if aad.len() <= 16 {
            return self.seal_packed(le_u128(nonce), le_u128(aad), aad.len(), data);
        }
        self.seal_j0(&j0_96(nonce), aad, data)
    }

    /// Verifies `tag` and decrypts `data` in place. On `false` the data is
    /// left as received.
    ///
    /// # Panics
    /// If `data` is longer than [`MAX_DATA_LEN`].
    #[must_use]
    pub fn open(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], data: &mut [u8], tag: &[u8; TAG_LEN]) -> bool {
        if aad.len() <= 16 {
            return self.open_packed(le_u128(nonce), le_u128(aad), aad.len(), data, tag);
        }
        self.open_j0(&j0_96(nonce), aad, data, tag)
    }

    /// [`GcmKey::seal`] with an IV of any non-zero length (for 12 bytes this
    /// is `seal`).
    ///
    /// # Panics
    /// If `iv` is empty or `data` is longer than [`MAX_DATA_LEN`].
    pub fn seal_with_iv(&self, iv: &[u8], aad: &[u8], data: &mut [u8]) -> [u8; TAG_LEN] {
        self.seal_j0(&self.j0_for_iv(iv), aad, data)
    }

    /// [`GcmKey::open`] with an IV of any non-zero length.
    ///
    /// # Panics
    /// If `iv` is empty or `data` is longer than [`MAX_DATA_LEN`].
    #[must_use]
    pub fn open_with_iv(&self, iv: &[u8], aad: &[u8], data: &mut [u8], tag: &[u8; TAG_LEN]) -> bool {
        self.open_j0(&self.j0_for_iv(iv), aad, data, tag)
    }

    /// [`GcmKey::seal`] with the nonce and a short AAD passed as integers, for callers that
    /// assemble them from fields (ESP: salt ‖ IV, SPI ‖ sequence number): nothing is stored
    /// to memory and read back. Byte i of the nonce is byte i of `nonce.to_le_bytes()` (the
    /// top 32 bits are ignored); the AAD is the first `aad_len` bytes of `aad.to_le_bytes()`
    /// (an `aad_len` above 16 counts as 16; bytes past it are ignored).
    ///
    /// # Panics
    /// If `data` is longer than [`MAX_DATA_LEN`].
    pub fn seal_packed(&self, nonce: u128, aad: u128, aad_len: usize, data: &mut [u8]) -> [u8; TAG_LEN] {
        check_len(data.len());
        let (j0, aad, aad_len) = packed(nonce, aad, aad_len);
        match &self.engine {
            Engine::Soft(k) => k.seal(&j0.to_le_bytes(), &aad.to_le_bytes()[..aad_len], data),
            #[cfg(target_arch = "x86_64")]
            Engine::Simd(k) => k.seal_packed(j0, aad, aad_len, data),
        }
    }

    /// [`GcmKey::open`] with the nonce and a short AAD as integers, as in
    /// [`GcmKey::seal_packed`]. On `false` the data is left as received.
    ///
    /// # Panics
    /// If `data` is longer than [`MAX_DATA_LEN`].
    #[must_use]
    #[inline]
    pub fn open_packed(
        &self,
        nonce: u128,
        aad: u128,
        aad_len: usize,
        data: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> bool {
        check_len(data.len());
        let (j0, aad, aad_len) = packed(nonce, aad, aad_len);
        match &self.engine {
            Engine::Soft(k) => k.open(&j0.to_le_bytes(), &aad.to_le_bytes()[..aad_len], data, tag),
            #[cfg(target_arch = "x86_64")]
            Engine::Simd(k) => k.open_packed(j0, aad, aad_len, data, tag),
        }
    }

    /// Seals every job: one backend dispatch and one load of the key into
    /// registers for the whole burst. Sets each job's `tag` and `ok = true`.
    ///
    /// # Panics
    /// If a job's data is longer than [`MAX_DATA_LEN`].
    pub fn seal_many(&self, jobs: &mut [Job<'_>]) {
        for j in jobs.iter() {
            check_len(j.data.len());
        }
        match &self.engine {
            Engine::Soft(k) => {
                for j in jobs {
                    j.tag = k.seal(&j0_96(&j.nonce), j.aad, j.data);
                    j.ok = true;
                }
            }
            #[cfg(target_arch = "x86_64")]
            Engine::Simd(k) => k.seal_many(jobs),
        }
    }

    /// Opens every job: sets each job's `ok`, and returns how many verified.
    /// Data of jobs that fail is left as received.
    ///
    /// # Panics
    /// If a job's data is longer than [`MAX_DATA_LEN`].
    pub fn open_many(&self, jobs: &mut [Job<'_>]) -> usize {
        for j in jobs.iter() {
            check_len(j.data.len());
        }
        match &self.engine {
            Engine::Soft(k) => {
                for j in jobs.iter_mut() {
                    j.ok = k.open(&j0_96(&j.nonce), j.aad, j.data, &j.tag);
                }
            }
            #[cfg(target_arch = "x86_64")]
            Engine::Simd(k) => k.open_many(jobs),
        }
        jobs.iter().filter(|j| j.ok).count()
    }

    fn seal_j0(&self, j0: &[u8; 16], aad: &[u8], data: &mut [u8]) -> [u8; TAG_LEN] {
        check_len(data.len());
        match &self.engine {
            Engine::Soft(k) => k.seal(j0, aad, data),
            #[cfg(target_arch = "x86_64")]
            Engine::Simd(k) => k.seal(j0, aad, data),
        }
    }

    fn open_j0(&self, j0: &[u8; 16], aad: &[u8], data: &mut [u8], tag: &[u8; TAG_LEN]) -> bool {
        check_len(data.len());
        match &self.engine {
            Engine::Soft(k) => k.open(j0, aad, data, tag),
            #[cfg(target_arch = "x86_64")]
            Engine::Simd(k) => k.open(j0, aad, data, tag),
        }
    }

    /// J0 for a 96-bit IV is IV ‖ 0^31 ‖ 1, otherwise GHASH(H, {}, IV)
    /// (SP 800-38D §7.1 step 2).
    fn j0_for_iv(&self, iv: &[u8]) -> [u8; 16] {
        assert!(!iv.is_empty(), "GCM IV must not be empty");
        if let Ok(n) = <&[u8; NONCE_LEN]>::try_from(iv) {
            return j0_96(n);
        }
        soft::ghash_iv(&self.h, iv)
    }
}

fn check_len(len: usize) {
    assert!(len as u64 <= MAX_DATA_LEN, "GCM data longer than 2^36 - 32 bytes");
}

/// J0 = nonce ‖ 0x00000001 and the AAD with the bytes past its length cleared, as integers
/// (little-endian byte order), and the AAD length clamped to 16.
#[inline(always)]
fn packed(nonce: u128, aad: u128, aad_len: usize) -> (u128, u128, usize) {
    let j0 = (nonce & ((1u128 << 96) - 1)) | (1u128 << 120);
    let aad_len = aad_len.min(16);
    let aad = if aad_len == 16 { aad } else { aad & ((1u128 << (8 * aad_len)) - 1) };
    (j0, aad, aad_len)
}

/// Up to 16 bytes as a little-endian integer (byte i in bits 8i..8i+8), read with 8- and
/// 4-byte loads from `b` itself.
#[inline]
pub(crate) fn le_u128(b: &[u8]) -> u128 {
    debug_assert!(b.len() <= 16);
    let mut x = 0u128;
    let mut i = 0;
    while i + 8 <= b.len() && i < 16 {
        let w: [u8; 8] = b[i..i + 8].try_into().expect("8 bytes");
        x |= u128::from(u64::from_le_bytes(w)) << (8 * i);
        i += 8;
    }
    if i + 4 <= b.len() && i < 16 {
        let w: [u8; 4] = b[i..i + 4].try_into().expect("4 bytes");
        x |= u128::from(u32::from_le_bytes(w)) << (8 * i);
        i += 4;
    }
    while i < b.len() && i < 16 {
        x |= u128::from(b[i]) << (8 * i);
        i += 1;
    }
    x
}

/// J0 = nonce ‖ 0x00000001.
pub(crate) fn j0_96(nonce: &[u8; NONCE_LEN]) -> [u8; 16] {
    let mut j0 = [0u8; 16];
    j0[..NONCE_LEN].copy_from_slice(nonce);
    j0[15] = 1;
    j0
}

/// The GHASH length block: bit lengths of the AAD and the data, big-endian.
pub(crate) fn len_block(aad_len: usize, data_len: usize) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&((aad_len as u64) * 8).to_be_bytes());
    b[8..].copy_from_slice(&((data_len as u64) * 8).to_be_bytes());
    b
}

/// Constant-time comparison of a computed and a received tag.
pub(crate) fn tags_equal(a: &[u8; TAG_LEN], b: &[u8; TAG_LEN]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// inc32 wraps the low 32 bits of the counter block mod 2^32 and leaves
    /// the other 96 alone (SP 800-38D §6.2). A 96-bit nonce never gets there
    /// (its counter starts at 2), but a hashed IV can: start just below the
    /// wrap on every backend and compare with the portable one.
    #[test]
    fn counter_wraps_mod_2_32() {
        let mut data = [0u8; 1000];
        for (i, b) in data.iter_mut().enumerate() {
            *b = (i * 7) as u8;
        }
        for key in [&[0x11u8; 16][..], &[0x22u8; 32][..]] {
            let soft = GcmKey::with_backend(key, Backend::Soft).unwrap();
            for low in [0xffff_ffffu32, 0xffff_fffe, 0xffff_fff0, 0xffff_ffc3, 0xffff_ff00] {
                let mut j0 = [0xabu8; 16];
                j0[12..].copy_from_slice(&low.to_be_bytes());
                for len in [15, 16, 100, 256, 300, 1000] {
                    let mut want = data[..len].to_vec();
                    let want_tag = soft.seal_j0(&j0, b"aad", &mut want);
                    for b in Backend::ALL.into_iter().filter(|b| b.is_available()) {
                        let k = GcmKey::with_backend(key, b).unwrap();
                        let mut got = data[..len].to_vec();
                        assert_eq!(k.seal_j0(&j0, b"aad", &mut got), want_tag, "{b:?} {low:#x} {len}");
                        assert_eq!(got, want, "{b:?} {low:#x} {len}");
                        assert!(k.open_j0(&j0, b"aad", &mut got, &want_tag));
                        assert_eq!(got, &data[..len]);
                    }
                }
            }
        }
        // The portable path itself: the block after counter 0xffffffff uses
        // counter 0 with the same 96-bit prefix.
        let soft = GcmKey::with_backend(&[0x11; 16], Backend::Soft).unwrap();
        let mut j0 = [0xabu8; 16];
        j0[12..].copy_from_slice(&0xffff_fffeu32.to_be_bytes());
        let mut two = [0u8; 32];
        let _ = soft.seal_j0(&j0, &[], &mut two);
        let mut j0b = j0;
        j0b[12..].copy_from_slice(&0xffff_ffffu32.to_be_bytes());
        let mut next = [0u8; 16];
        let _ = soft.seal_j0(&j0b, &[], &mut next);
        assert_eq!(&two[16..], &next[..], "the second block after J0 = ..fffffffe uses counter 0");
    }
}
