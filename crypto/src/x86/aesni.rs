//! AES-NI + PCLMULQDQ: one block per xmm, 8 blocks per chunk. Also the AES
//! key expansion and single-block encryption every SIMD backend uses at key
//! setup.

/// One block per vector.
type V = __m128i;
/// Blocks per vector.
const L: usize = 1;
/// Vectors per chunk: 8 blocks in flight through the AES pipeline.
const K: usize = 8;

gcm_driver!("aes,pclmulqdq,sse2,ssse3,sse4.1");

#[target_feature(enable = "sse2")]
fn vzero() -> V {
    _mm_setzero_si128()
}

#[target_feature(enable = "sse2")]
fn vxor(a: V, b: V) -> V {
    _mm_xor_si128(a, b)
}

#[target_feature(enable = "sse2")]
fn bcast(x: __m128i) -> V {
    x
}

/// The last (only) block of `v`.
#[target_feature(enable = "sse2")]
fn last(v: V) -> __m128i {
    v
}

/// `v` with its last (only) block replaced by `x`.
#[target_feature(enable = "sse2")]
fn set_last(_v: V, x: __m128i) -> V {
    x
}

#[target_feature(enable = "sse2")]
fn lo128(v: V) -> __m128i {
    v
}

#[target_feature(enable = "sse2")]
fn from128(x: __m128i) -> V {
    x
}

#[target_feature(enable = "sse2")]
fn hxor(v: V) -> __m128i {
    v
}

#[target_feature(enable = "aes")]
fn enc(a: V, k: V) -> V {
    _mm_aesenc_si128(a, k)
}

#[target_feature(enable = "aes")]
fn enclast(a: V, k: V) -> V {
    _mm_aesenclast_si128(a, k)
}

#[target_feature(enable = "pclmulqdq")]
fn clmul00(a: V, b: V) -> V {
    _mm_clmulepi64_si128(a, b, 0x00)
}

#[target_feature(enable = "pclmulqdq")]
fn clmul01(a: V, b: V) -> V {
    _mm_clmulepi64_si128(a, b, 0x01)
}

#[target_feature(enable = "pclmulqdq")]
fn clmul10(a: V, b: V) -> V {
    _mm_clmulepi64_si128(a, b, 0x10)
}

#[target_feature(enable = "pclmulqdq")]
fn clmul11(a: V, b: V) -> V {
    _mm_clmulepi64_si128(a, b, 0x11)
}

/// Shifts each 128-bit lane left by 8 bytes.
#[target_feature(enable = "sse2")]
fn sl8(v: V) -> V {
    _mm_slli_si128(v, 8)
}

/// Shifts each 128-bit lane right by 8 bytes.
#[target_feature(enable = "sse2")]
fn sr8(v: V) -> V {
    _mm_srli_si128(v, 8)
}

/// Reverses the bytes of each 128-bit lane.
#[target_feature(enable = "ssse3")]
fn bswap(v: V) -> V {
    _mm_shuffle_epi8(v, _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15))
}

#[target_feature(enable = "sse2")]
fn add32(a: V, b: V) -> V {
    _mm_add_epi32(a, b)
}

/// `n` in the low dword of every lane.
#[target_feature(enable = "sse2")]
fn lane_const(n: i32) -> V {
    _mm_set_epi32(0, 0, 0, n)
}

/// Lane j holds j + 1 in its low dword.
#[target_feature(enable = "sse2")]
fn lane_seq() -> V {
    _mm_set_epi32(0, 0, 0, 1)
}

#[inline(always)]
fn loadv(s: &[u8]) -> V {
    load128(s)
}

#[inline(always)]
fn storev(s: &mut [u8], v: V) {
    store128(s, v)
}

/// The AES-128 / AES-256 key schedule (FIPS 197 §5.2) through
/// AESKEYGENASSIST. Fills `rk[0..=nr]` and returns nr.
#[target_feature(enable = "aes,sse2")]
pub(super) fn expand_key(key: &[u8], rk: &mut [[u8; 16]; 15]) -> usize {
    // XOR of all preceding words into each word: w0, w0^w1, w0^w1^w2, ...
    #[target_feature(enable = "sse2")]
    fn prefix(k: __m128i) -> __m128i {
        let k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
        _mm_xor_si128(k, _mm_slli_si128(k, 8))
    }
    // Each assist takes its round constant as an immediate.
    macro_rules! assist {
        ($k:expr, $rcon:literal) => {
            _mm_aeskeygenassist_si128::<$rcon>($k)
        };
    }
    let mut put = |i: usize, v: __m128i| store128(&mut rk[i], v);
    if key.len() == 16 {
        let mut k = load128(key);
        put(0, k);
        // Next key = prefix(k) ^ (RotWord(SubWord(w3)) ^ rcon) broadcast.
        macro_rules! step {
            ($i:literal, $rcon:literal) => {
                k = _mm_xor_si128(prefix(k), _mm_shuffle_epi32(assist!(k, $rcon), 0xff));
                put($i, k);
            };
        }
        step!(1, 0x01);
        step!(2, 0x02);
        step!(3, 0x04);
        step!(4, 0x08);
        step!(5, 0x10);
        step!(6, 0x20);
        step!(7, 0x40);
        step!(8, 0x80);
        step!(9, 0x1b);
        step!(10, 0x36);
        10
    } else {
        assert_eq!(key.len(), 32);
        let mut a = load128(&key[..16]);
        let mut b = load128(&key[16..]);
        put(0, a);
        put(1, b);
        // Even keys: RotWord(SubWord) ^ rcon of the odd key's last word;
        // odd keys: SubWord alone of the even key's last word (dword 2).
        macro_rules! step {
            ($i:literal, $rcon:literal) => {
                a = _mm_xor_si128(prefix(a), _mm_shuffle_epi32(assist!(b, $rcon), 0xff));
                put($i, a);
            };
            ($i:literal, $rcon:literal, odd) => {
                step!($i, $rcon);
                b = _mm_xor_si128(prefix(b), _mm_shuffle_epi32(assist!(a, 0x00), 0xaa));
                put($i + 1, b);
            };
        }
        step!(2, 0x01, odd);
        step!(4, 0x02, odd);
        step!(6, 0x04, odd);
        step!(8, 0x08, odd);
        step!(10, 0x10, odd);
        step!(12, 0x20, odd);
        step!(14, 0x40);
        14
    }
}

/// E(K, block) with the expanded key.
#[target_feature(enable = "aes,sse2")]
pub(super) fn encrypt_block(rk: &[[u8; 16]; 15], nr: usize, block: &[u8; 16]) -> [u8; 16] {
    let mut b = _mm_xor_si128(load128(block), load128(&rk[0]));
    for r in &rk[1..nr] {
        b = _mm_aesenc_si128(b, load128(r));
    }
    b = _mm_aesenclast_si128(b, load128(&rk[nr]));
    let mut out = [0u8; 16];
    store128(&mut out, b);
    out
}

#[target_feature(enable = "sse2")]
fn vand(a: V, b: V) -> V {
    _mm_and_si128(a, b)
}

/// Up to 16 bytes, zero-padded.
#[inline(always)]
fn loadp(s: &[u8]) -> V {
    if s.len() >= VB {
        return load128(s);
    }
    let mut t = [0u8; VB];
    t[..s.len()].copy_from_slice(s);
    load128(&t)
}

/// The first `s.len()` (at most 16) bytes of `v`.
#[inline(always)]
fn storep(s: &mut [u8], v: V) {
    if s.len() >= VB {
        return store128(s, v);
    }
    let mut t = [0u8; VB];
    store128(&mut t, v);
    let n = s.len();
    s.copy_from_slice(&t[..n]);
}
