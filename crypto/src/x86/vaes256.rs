//! AVX2 + VAES + VPCLMULQDQ: two blocks per ymm, 8 blocks per chunk.

/// Two blocks per vector.
type V = __m256i;
/// Blocks per vector.
const L: usize = 2;
/// Vectors per chunk (16 ymm registers leave room for the round keys).
const K: usize = 4;

gcm_driver!("aes,pclmulqdq,sse2,ssse3,sse4.1,avx,avx2,vaes,vpclmulqdq");

#[target_feature(enable = "avx")]
fn vzero() -> V {
    _mm256_setzero_si256()
}

#[target_feature(enable = "avx2")]
fn vxor(a: V, b: V) -> V {
    _mm256_xor_si256(a, b)
}

#[target_feature(enable = "avx2")]
fn bcast(x: __m128i) -> V {
    _mm256_broadcastsi128_si256(x)
}

/// The last block of `v`.
#[target_feature(enable = "avx2")]
fn last(v: V) -> __m128i {
    _mm256_extracti128_si256::<1>(v)
}

/// `v` with its last block replaced by `x`.
#[target_feature(enable = "avx2")]
fn set_last(v: V, x: __m128i) -> V {
    _mm256_inserti128_si256::<1>(v, x)
}

#[target_feature(enable = "avx")]
fn lo128(v: V) -> __m128i {
    _mm256_castsi256_si128(v)
}

#[target_feature(enable = "avx")]
fn from128(x: __m128i) -> V {
    _mm256_zextsi128_si256(x)
}

#[target_feature(enable = "avx2")]
fn hxor(v: V) -> __m128i {
    _mm_xor_si128(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v))
}

#[target_feature(enable = "avx2,vaes")]
fn enc(a: V, k: V) -> V {
    _mm256_aesenc_epi128(a, k)
}

#[target_feature(enable = "avx2,vaes")]
fn enclast(a: V, k: V) -> V {
    _mm256_aesenclast_epi128(a, k)
}

#[target_feature(enable = "avx2,vpclmulqdq")]
fn clmul00(a: V, b: V) -> V {
    _mm256_clmulepi64_epi128::<0x00>(a, b)
}

#[target_feature(enable = "avx2,vpclmulqdq")]
fn clmul01(a: V, b: V) -> V {
    _mm256_clmulepi64_epi128::<0x01>(a, b)
}

#[target_feature(enable = "avx2,vpclmulqdq")]
fn clmul10(a: V, b: V) -> V {
    _mm256_clmulepi64_epi128::<0x10>(a, b)
}

#[target_feature(enable = "avx2,vpclmulqdq")]
fn clmul11(a: V, b: V) -> V {
    _mm256_clmulepi64_epi128::<0x11>(a, b)
}

#[target_feature(enable = "avx2")]
fn sl8(v: V) -> V {
    _mm256_bslli_epi128::<8>(v)
}

#[target_feature(enable = "avx2")]
fn sr8(v: V) -> V {
    _mm256_bsrli_epi128::<8>(v)
}

#[target_feature(enable = "avx2")]
fn bswap(v: V) -> V {
    let m = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    _mm256_shuffle_epi8(v, _mm256_broadcastsi128_si256(m))
}

#[target_feature(enable = "avx2")]
fn add32(a: V, b: V) -> V {
    _mm256_add_epi32(a, b)
}

#[target_feature(enable = "avx")]
fn lane_const(n: i32) -> V {
    _mm256_set_epi32(0, 0, 0, n, 0, 0, 0, n)
}

#[target_feature(enable = "avx")]
fn lane_seq() -> V {
    _mm256_set_epi32(0, 0, 0, 2, 0, 0, 0, 1)
}

#[target_feature(enable = "avx")]
fn loadv(s: &[u8]) -> V {
    assert!(s.len() >= VB);
    // SAFETY: `s` has at least 32 readable bytes; the load is unaligned.
    unsafe { _mm256_loadu_si256(s.as_ptr().cast()) }
}

#[target_feature(enable = "avx")]
fn storev(s: &mut [u8], v: V) {
    assert!(s.len() >= VB);
    // SAFETY: `s` has at least 32 writable bytes; the store is unaligned.
    unsafe { _mm256_storeu_si256(s.as_mut_ptr().cast(), v) }
}

#[target_feature(enable = "avx2")]
fn vand(a: V, b: V) -> V {
    _mm256_and_si256(a, b)
}

/// Up to 32 bytes, zero-padded.
#[target_feature(enable = "avx")]
fn loadp(s: &[u8]) -> V {
    if s.len() >= VB {
        return loadv(s);
    }
    let mut t = [0u8; VB];
    t[..s.len()].copy_from_slice(s);
    loadv(&t)
}

/// The first `s.len()` (at most 32) bytes of `v`.
#[target_feature(enable = "avx")]
fn storep(s: &mut [u8], v: V) {
    if s.len() >= VB {
        return storev(s, v);
    }
    let mut t = [0u8; VB];
    storev(&mut t, v);
    let n = s.len();
    s.copy_from_slice(&t[..n]);
}
