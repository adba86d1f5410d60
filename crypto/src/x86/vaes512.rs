//! AVX-512 + VAES + VPCLMULQDQ: four blocks per zmm, 16 blocks per chunk.

/// Four blocks per vector.
type V = __m512i;
/// Blocks per vector.
const L: usize = 4;
/// Vectors per chunk: 16 blocks in flight, one reduction per 256 bytes.
const K: usize = 4;

gcm_driver!("aes,pclmulqdq,sse2,ssse3,sse4.1,avx,avx2,avx512f,avx512bw,avx512vl,vaes,vpclmulqdq");

#[target_feature(enable = "avx512f")]
fn vzero() -> V {
    _mm512_setzero_si512()
}

#[target_feature(enable = "avx512f")]
fn vxor(a: V, b: V) -> V {
    _mm512_xor_si512(a, b)
}

#[target_feature(enable = "avx512f")]
fn bcast(x: __m128i) -> V {
    _mm512_broadcast_i32x4(x)
}

/// The last block of `v`.
#[target_feature(enable = "avx512f")]
fn last(v: V) -> __m128i {
    _mm512_extracti32x4_epi32::<3>(v)
}

/// `v` with its last block replaced by `x`.
#[target_feature(enable = "avx512f")]
fn set_last(v: V, x: __m128i) -> V {
    _mm512_inserti32x4::<3>(v, x)
}

#[target_feature(enable = "avx512f")]
fn lo128(v: V) -> __m128i {
    _mm512_castsi512_si128(v)
}

#[target_feature(enable = "avx512f")]
fn from128(x: __m128i) -> V {
    _mm512_zextsi128_si512(x)
}

#[target_feature(enable = "avx512f")]
fn hxor(v: V) -> __m128i {
    let a = _mm_xor_si128(_mm512_castsi512_si128(v), _mm512_extracti32x4_epi32::<1>(v));
    let b = _mm_xor_si128(_mm512_extracti32x4_epi32::<2>(v), _mm512_extracti32x4_epi32::<3>(v));
    _mm_xor_si128(a, b)
}

#[target_feature(enable = "avx512f,vaes")]
fn enc(a: V, k: V) -> V {
    _mm512_aesenc_epi128(a, k)
}

#[target_feature(enable = "avx512f,vaes")]
fn enclast(a: V, k: V) -> V {
    _mm512_aesenclast_epi128(a, k)
}

#[target_feature(enable = "avx512f,vpclmulqdq")]
fn clmul00(a: V, b: V) -> V {
    _mm512_clmulepi64_epi128::<0x00>(a, b)
}

#[target_feature(enable = "avx512f,vpclmulqdq")]
fn clmul01(a: V, b: V) -> V {
    _mm512_clmulepi64_epi128::<0x01>(a, b)
}

#[target_feature(enable = "avx512f,vpclmulqdq")]
fn clmul10(a: V, b: V) -> V {
    _mm512_clmulepi64_epi128::<0x10>(a, b)
}

#[target_feature(enable = "avx512f,vpclmulqdq")]
fn clmul11(a: V, b: V) -> V {
    _mm512_clmulepi64_epi128::<0x11>(a, b)
}

#[target_feature(enable = "avx512bw")]
fn sl8(v: V) -> V {
    _mm512_bslli_epi128::<8>(v)
}

#[target_feature(enable = "avx512bw")]
fn sr8(v: V) -> V {
    _mm512_bsrli_epi128::<8>(v)
}

#[target_feature(enable = "avx512bw")]
fn bswap(v: V) -> V {
    let m = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    _mm512_shuffle_epi8(v, _mm512_broadcast_i32x4(m))
}

#[target_feature(enable = "avx512f")]
fn add32(a: V, b: V) -> V {
    _mm512_add_epi32(a, b)
}

#[target_feature(enable = "avx512f")]
fn lane_const(n: i32) -> V {
    _mm512_set_epi32(0, 0, 0, n, 0, 0, 0, n, 0, 0, 0, n, 0, 0, 0, n)
}

#[target_feature(enable = "avx512f")]
fn lane_seq() -> V {
    _mm512_set_epi32(0, 0, 0, 4, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 1)
}

#[target_feature(enable = "avx512f")]
fn loadv(s: &[u8]) -> V {
    assert!(s.len() >= VB);
    // SAFETY: `s` has at least 64 readable bytes; the load is unaligned.
    unsafe { _mm512_loadu_si512(s.as_ptr().cast()) }
}

#[target_feature(enable = "avx512f")]
fn storev(s: &mut [u8], v: V) {
    assert!(s.len() >= VB);
    // SAFETY: `s` has at least 64 writable bytes; the store is unaligned.
    unsafe { _mm512_storeu_si512(s.as_mut_ptr().cast(), v) }
}

#[target_feature(enable = "avx512f")]
fn vand(a: V, b: V) -> V {
    _mm512_and_si512(a, b)
}

/// Byte mask of the first `n` (at most 64) bytes.
#[inline(always)]
fn first_bytes(n: usize) -> __mmask64 {
    if n >= 64 {
        !0
    } else {
        (1u64 << n) - 1
    }
}

/// Up to 64 bytes, zero-padded, with one masked load.
#[target_feature(enable = "avx512f,avx512bw")]
fn loadp(s: &[u8]) -> V {
    // SAFETY: the mask selects only the `s.len()` bytes of `s`; masked-off
    // bytes are not accessed (AVX-512 masked loads do not fault on them).
    unsafe { _mm512_maskz_loadu_epi8(first_bytes(s.len()), s.as_ptr().cast()) }
}

/// The first `s.len()` (at most 64) bytes of `v`, with one masked store.
#[target_feature(enable = "avx512f,avx512bw")]
fn storep(s: &mut [u8], v: V) {
    // SAFETY: the mask selects only the `s.len()` bytes of `s`; masked-off
    // bytes are neither read nor written.
    unsafe { _mm512_mask_storeu_epi8(s.as_mut_ptr().cast(), first_bytes(s.len()), v) }
}
