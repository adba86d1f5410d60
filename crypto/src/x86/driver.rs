//! The GCM driver shared by the SIMD backends, as a macro expanded inside
//! each backend module. The module provides `V` (a vector of `L` blocks), `K`
//! (vectors per chunk) and the primitives (`vxor`, `enc`, `clmul00`, ...);
//! the macro adds the target features to every function it defines.
//!
//! Data layout and arithmetic:
//! * counters are kept byte-reversed, where the 32-bit GCM counter is the
//!   low dword of each lane, so `add32` is exactly inc32 (wraps mod 2^32);
//!   they are reversed back before the AES rounds;
//! * GHASH runs in the POLYVAL domain (see `poly.rs`): blocks are
//!   byte-reversed, a chunk of n blocks is multiplied by H^n..H^1 with the
//!   running hash folded into its first block, and the 256-bit sums are
//!   reduced once per chunk (two carry-less multiplies, Montgomery style);
//! * a chunk is `K` vectors = `K·L` blocks; seal hashes chunk i-1 during the
//!   AES rounds of chunk i, open hashes chunk i during its own rounds;
//! * the last partial chunk is loaded zero-padded (masked loads on AVX-512)
//!   and only its vectors go through AES; its hash, the running hash and the
//!   length block form one aggregate with one reduction, and for packets
//!   shorter than a chunk the (≤ 16-byte) AAD block joins it too.

macro_rules! gcm_driver {
    ($feat:literal) => {
        use std::arch::x86_64::*;

        use crate::poly::POWERS;
        use crate::x86::{load128, store128, Aad, SimdKey};
        use crate::{j0_96, Job, TAG_LEN};

        /// Bytes per vector.
        const VB: usize = 16 * L;
        /// Blocks and bytes per chunk.
        const CB: usize = K * L;
        const CH: usize = 16 * CB;
        const _: () = assert!(CB + 2 <= POWERS && VB <= 64);

        /// The key in registers for one call (or one burst).
        struct Regs {
            rk: [V; 15],
            /// H^CB..H^1, one vector per chunk position.
            hp: [V; K],
        }

        #[target_feature(enable = $feat)]
        fn regs<const NR: usize>(k: &SimdKey) -> Regs {
            let mut rk = [vzero(); 15];
            for (i, r) in rk.iter_mut().enumerate().take(NR + 1) {
                *r = bcast(load128(&k.rk[i]));
            }
            let mut hp = [vzero(); K];
            for (i, h) in hp.iter_mut().enumerate() {
                *h = loadv(&k.htab[(POWERS - CB + i * L) * 16..]);
            }
            Regs { rk, hp }
        }

        /// A `u128` as a vector, byte i of its little-endian form in lane byte i: two moves
        /// from general registers (a 16-byte load of two 8-byte stores would stall).
        #[target_feature(enable = $feat)]
        fn from_u128(x: u128) -> __m128i {
            _mm_insert_epi64::<1>(_mm_cvtsi64_si128(x as u64 as i64), (x >> 64) as u64 as i64)
        }

        #[target_feature(enable = $feat)]
        fn bswap128(x: __m128i) -> __m128i {
            _mm_shuffle_epi8(x, _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15))
        }

        /// E(K, x) for one block, through lane 0 of the round keys.
        #[target_feature(enable = $feat)]
        fn aes1<const NR: usize>(rk: &[V; 15], x: __m128i) -> __m128i {
            let mut b = _mm_xor_si128(x, lo128(rk[0]));
            // Index loops over a constant range unroll; iterator adapters did not.
            for r in 1..NR {
                b = _mm_aesenc_si128(b, lo128(rk[r]));
            }
            _mm_aesenclast_si128(b, lo128(rk[NR]))
        }

        /// Byte-reversed inc32(J0) + lane index: the first data counters.
        #[target_feature(enable = $feat)]
        fn ctr_base(j0: __m128i) -> V {
            add32(bcast(bswap128(j0)), lane_seq())
        }

        /// The chunk's counter blocks, in AES byte order.
        #[target_feature(enable = $feat)]
        fn ctrs(cbase: V) -> [V; K] {
            let mut c = [vzero(); K];
            for (i, v) in c.iter_mut().enumerate() {
                *v = bswap(add32(cbase, lane_const((i * L) as i32)));
            }
            c
        }

        #[target_feature(enable = $feat)]
        fn aes_k<const NR: usize>(rk: &[V; 15], mut b: [V; K]) -> [V; K] {
            for v in b.iter_mut() {
                *v = vxor(*v, rk[0]);
            }
            for r in 1..NR {
                for v in b.iter_mut() {
                    *v = enc(*v, rk[r]);
                }
            }
            for v in b.iter_mut() {
                *v = enclast(*v, rk[NR]);
            }
            b
        }

        /// Accumulates the unreduced product x·h (schoolbook, 4 multiplies).
        #[target_feature(enable = $feat)]
        fn mul_acc(x: V, h: V, lo: &mut V, hi: &mut V, mid: &mut V) {
            *lo = vxor(*lo, clmul00(x, h));
            *hi = vxor(*hi, clmul11(x, h));
            *mid = vxor(*mid, vxor(clmul01(x, h), clmul10(x, h)));
        }

        /// T·x^-128 mod Q for T = hi·x^128 + lo: two Montgomery steps of 64
        /// bits; Q ≡ 1 mod x^64, so each step adds lo64·Q, whose middle
        /// terms are lo64·(x^63 + x^62 + x^57) = lo64 · 0xC2.. placed at x^64.
        #[target_feature(enable = $feat)]
        fn reduce(lo: __m128i, hi: __m128i) -> __m128i {
            let q = _mm_set_epi64x(0xC200_0000_0000_0000u64 as i64, 1);
            let t = _mm_clmulepi64_si128(lo, q, 0x10);
            let lo = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4e), t);
            let t = _mm_clmulepi64_si128(lo, q, 0x10);
            let lo = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4e), t);
            _mm_xor_si128(lo, hi)
        }

        /// Folds the middle terms, sums the lanes and reduces.
        #[target_feature(enable = $feat)]
        fn finish_hash(lo: V, hi: V, mid: V) -> __m128i {
            let lo = vxor(lo, sl8(mid));
            let hi = vxor(hi, sr8(mid));
            reduce(hxor(lo), hxor(hi))
        }

        /// XORs a whole chunk with the keystream `ks` in place; returns the result.
        #[target_feature(enable = $feat)]
        #[inline]
        fn xor_chunk(ch: &mut [u8], ks: &[V; K]) -> [V; K] {
            let mut c = [vzero(); K];
            for (i, (cv, s)) in c.iter_mut().zip(ks.iter()).enumerate() {
                let d = &mut ch[i * VB..];
                *cv = vxor(loadv(d), *s);
                storev(d, *cv);
            }
            c
        }

        /// A chunk of ciphertext in GHASH order, with the running hash folded
        /// into its first block.
        #[target_feature(enable = $feat)]
        fn prepare(c: &[V; K], acc: __m128i) -> [V; K] {
            let mut x = [vzero(); K];
            for (d, s) in x.iter_mut().zip(c.iter()) {
                *d = bswap(*s);
            }
            x[0] = vxor(x[0], from128(acc));
            x
        }

        /// Hash of a full prepared chunk.
        #[target_feature(enable = $feat)]
        fn hash_k(x: &[V; K], hp: &[V; K]) -> __m128i {
            let (mut lo, mut hi, mut mid) = (vzero(), vzero(), vzero());
            for i in 0..K {
                mul_acc(x[i], hp[i], &mut lo, &mut hi, &mut mid);
            }
            finish_hash(lo, hi, mid)
        }

        /// The stitched step: AES rounds over the counter blocks `b`, with one
        /// vector of the prepared chunk `x` multiplied after each round.
        #[target_feature(enable = $feat)]
        #[inline]
        fn aes_k_ghash<const NR: usize>(
            rk: &[V; 15],
            b: [V; K],
            x: &[V; K],
            hp: &[V; K],
        ) -> ([V; K], __m128i) {
            aes_nv_ghash::<NR>(rk, b, K, x, hp)
        }

        /// [`aes_k_ghash`] for the first `nv` vectors of `b` only (the others are returned
        /// as they came): a seal's tail of fewer than K vectors does not pay for the rest.
        #[target_feature(enable = $feat)]
        #[inline]
        fn aes_nv_ghash<const NR: usize>(
            rk: &[V; 15],
            mut b: [V; K],
            nv: usize,
            x: &[V; K],
            hp: &[V; K],
        ) -> ([V; K], __m128i) {
            const { assert!(NR > K) };
            let (mut lo, mut hi, mut mid) = (vzero(), vzero(), vzero());
            for (i, v) in b.iter_mut().enumerate() {
                if i < nv {
                    *v = vxor(*v, rk[0]);
                }
            }
            for r in 1..NR {
                for (i, v) in b.iter_mut().enumerate() {
                    if i < nv {
                        *v = enc(*v, rk[r]);
                    }
                }
                if r <= K {
                    mul_acc(x[r - 1], hp[r - 1], &mut lo, &mut hi, &mut mid);
                }
            }
            for (i, v) in b.iter_mut().enumerate() {
                if i < nv {
                    *v = enclast(*v, rk[NR]);
                }
            }
            (b, finish_hash(lo, hi, mid))
        }

        /// Hash of `n` (1..=CB) blocks at the start of `s`, which must hold
        /// whole vectors: `ceil(n / L) · VB` bytes. Lanes past `n` blocks are
        /// multiplied by the zero entries of the table.
        #[target_feature(enable = $feat)]
        fn hash_n(k: &SimdKey, acc: __m128i, s: &[u8], n: usize) -> __m128i {
            debug_assert!((1..=CB).contains(&n));
            let nv = n.div_ceil(L);
            let (mut lo, mut hi, mut mid) = (vzero(), vzero(), vzero());
            for v in 0..K {
                if v < nv {
                    let mut x = bswap(loadv(&s[v * VB..]));
                    if v == 0 {
                        x = vxor(x, from128(acc));
                    }
                    let h = loadv(&k.htab[(POWERS - n + v * L) * 16..]);
                    mul_acc(x, h, &mut lo, &mut hi, &mut mid);
                }
            }
            finish_hash(lo, hi, mid)
        }

        /// `0xff` × 64 then `0` × 64: `ZMASK[64 - n..]` keeps the first n bytes.
        static ZMASK: [u8; 128] = {
            let mut m = [0u8; 128];
            let mut i = 0;
            while i < 64 {
                m[i] = 0xff;
                i += 1;
            }
            m
        };

        /// Keystream for the first `nv` vectors of a partial chunk: a short
        /// packet does not pay for a whole chunk of AES. (Branches on `nv`
        /// rather than a `match` over sizes: small enough to be inlined, so
        /// the vectors stay in registers.)
        #[target_feature(enable = $feat)]
        #[inline]
        fn aes_nv<const NR: usize>(rk: &[V; 15], mut b: [V; K], nv: usize) -> [V; K] {
            for (i, v) in b.iter_mut().enumerate() {
                if i < nv {
                    *v = vxor(*v, rk[0]);
                }
            }
            for r in 1..NR {
                for (i, v) in b.iter_mut().enumerate() {
                    if i < nv {
                        *v = enc(*v, rk[r]);
                    }
                }
            }
            for (i, v) in b.iter_mut().enumerate() {
                if i < nv {
                    *v = enclast(*v, rk[NR]);
                }
            }
            b
        }

        /// The bytes of `s` (less than a chunk) as zero-padded vectors.
        #[target_feature(enable = $feat)]
        fn load_tail(s: &[u8]) -> [V; K] {
            let mut x = [vzero(); K];
            for (v, c) in x.iter_mut().zip(s.chunks(VB)) {
                *v = loadp(c);
            }
            x
        }

        /// Stores the first `s.len()` bytes of `x` into `s`.
        #[target_feature(enable = $feat)]
        fn store_tail(s: &mut [u8], x: &[V; K]) {
            for (v, c) in x.iter().zip(s.chunks_mut(VB)) {
                storep(c, *v);
            }
        }

        /// Schoolbook product of two xmm blocks, unreduced: (lo, hi, mid).
        #[target_feature(enable = $feat)]
        fn mul128(a: __m128i, h: __m128i) -> (__m128i, __m128i, __m128i) {
            let lo = _mm_clmulepi64_si128(a, h, 0x00);
            let hi = _mm_clmulepi64_si128(a, h, 0x11);
            let mid = _mm_xor_si128(_mm_clmulepi64_si128(a, h, 0x01), _mm_clmulepi64_si128(a, h, 0x10));
            (lo, hi, mid)
        }

        /// The hash of a packet's last part, as one aggregate of
        /// n = pre + nb + 1 blocks (one reduction): position 0 carries the
        /// running hash `acc` (plus the AAD block `first` when `pre` = 1),
        /// then the `nb` blocks of `ct` (zero-padded), then the length block.
        #[target_feature(enable = $feat)]
        fn tail_hash(
            k: &SimdKey,
            acc: __m128i,
            first: __m128i,
            pre: usize,
            ct: &[V; K],
            nb: usize,
            lens: __m128i,
        ) -> __m128i {
            let n = pre + nb + 1;
            let (mut lo, mut hi, mut mid) = (vzero(), vzero(), vzero());
            for (v, c) in ct.iter().enumerate().take(nb.div_ceil(L)) {
                let h = loadv(&k.htab[(POWERS - n + pre + v * L) * 16..]);
                mul_acc(bswap(*c), h, &mut lo, &mut hi, &mut mid);
            }
            let (l, h, m) = ends(k, acc, first, n, lens);
            let (lo, hi, mid) =
                (_mm_xor_si128(hxor(lo), l), _mm_xor_si128(hxor(hi), h), _mm_xor_si128(hxor(mid), m));
            reduce(_mm_xor_si128(lo, _mm_slli_si128(mid, 8)), _mm_xor_si128(hi, _mm_srli_si128(mid, 8)))
        }

        /// The two ends of an `n`-block final aggregate, unreduced: position 0 (the running
        /// hash `acc` with the AAD block `first`) times H^n, plus the length block times H.
        #[target_feature(enable = $feat)]
        #[inline]
        fn ends(
            k: &SimdKey,
            acc: __m128i,
            first: __m128i,
            n: usize,
            lens: __m128i,
        ) -> (__m128i, __m128i, __m128i) {
            let hn = load128(&k.htab[(POWERS - n) * 16..]);
            let (l0, h0, m0) = mul128(_mm_xor_si128(acc, first), hn);
            let (l1, h1, m1) = mul128(lens, load128(&k.htab[(POWERS - 1) * 16..]));
            (_mm_xor_si128(l0, l1), _mm_xor_si128(h0, h1), _mm_xor_si128(m0, m1))
        }

        /// [`ends`] reduced, for an aggregate whose middle blocks were hashed elsewhere: the
        /// reduction is linear, so this XORed with the reduced middle equals `tail_hash` of the
        /// whole aggregate.
        #[target_feature(enable = $feat)]
        fn fold_ends(k: &SimdKey, acc: __m128i, first: __m128i, n: usize, lens: __m128i) -> __m128i {
            let (lo, hi, mid) = ends(k, acc, first, n, lens);
            reduce(_mm_xor_si128(lo, _mm_slli_si128(mid, 8)), _mm_xor_si128(hi, _mm_srli_si128(mid, 8)))
        }

        /// GHASH of arbitrary bytes (zero-padded to a block).
        #[target_feature(enable = $feat)]
        fn hash_bytes(k: &SimdKey, mut acc: __m128i, bytes: &[u8]) -> __m128i {
            let mut chunks = bytes.chunks_exact(CH);
            for c in &mut chunks {
                acc = hash_n(k, acc, c, CB);
            }
            let rest = chunks.remainder();
            if !rest.is_empty() {
                let mut t = [0u8; CH];
                t[..rest.len()].copy_from_slice(rest);
                acc = hash_n(k, acc, &t, rest.len().div_ceil(16));
            }
            acc
        }

        /// XORs the keystream from `cbase` on into `data` (CTR only).
        #[target_feature(enable = $feat)]
        fn ctr_xor<const NR: usize>(g: &Regs, mut cbase: V, data: &mut [u8]) {
            let mut chunks = data.chunks_exact_mut(CH);
            for ch in &mut chunks {
                let ks = aes_k::<NR>(&g.rk, ctrs(cbase));
                cbase = add32(cbase, lane_const(CB as i32));
                for (i, s) in ks.iter().enumerate() {
                    let d = &mut ch[i * VB..];
                    storev(d, vxor(loadv(d), *s));
                }
            }
            let rest = chunks.into_remainder();
            if !rest.is_empty() {
                let mut x = load_tail(rest);
                let nv = rest.len().div_ceil(VB);
                let ks = aes_nv::<NR>(&g.rk, ctrs(cbase), nv);
                for (d, s) in x.iter_mut().zip(ks.iter()).take(nv) {
                    *d = vxor(*d, *s);
                }
                store_tail(rest, &x);
            }
        }

        /// Compares the computed tag with the received one in constant time:
        /// all 16 bytes are compared at once and only the combined verdict
        /// (which is public) decides anything.
        #[target_feature(enable = $feat)]
        fn tag_matches(want: __m128i, got: &[u8; TAG_LEN]) -> bool {
            _mm_movemask_epi8(_mm_cmpeq_epi8(want, load128(got))) == 0xffff
        }

        /// Starts the hash. A short AAD, when the packet is shorter than a
        /// chunk, joins the final aggregate: returns (1, its block reversed).
        /// Otherwise it is hashed now into `acc`: returns (0, zero).
        #[target_feature(enable = $feat)]
        #[inline]
        fn start_aad(k: &SimdKey, acc: &mut __m128i, aad: Aad<'_>, n: usize) -> (usize, __m128i) {
            match aad {
                // Already a register: no bytes to store and load back.
                Aad::Block(b, _) if n < CH => (1, b),
                Aad::Block(_, 0) => (0, _mm_setzero_si128()),
                // One block: acc = (acc ⊕ AAD) · H, in registers.
                Aad::Block(b, _) => {
                    let h1 = load128(&k.htab[(POWERS - 1) * 16..]);
                    let (lo, hi, mid) = mul128(_mm_xor_si128(*acc, b), h1);
                    *acc = reduce(
                        _mm_xor_si128(lo, _mm_slli_si128(mid, 8)),
                        _mm_xor_si128(hi, _mm_srli_si128(mid, 8)),
                    );
                    (0, _mm_setzero_si128())
                }
                Aad::Bytes(b) => start_aad_bytes(k, acc, b, n),
            }
        }

        /// `start_aad` for an AAD given as bytes: kept out of line, so that the packed path
        /// (`Aad::Block`, what ESP uses) stays small enough to inline into the cores.
        #[target_feature(enable = $feat)]
        #[inline(never)]
        fn start_aad_bytes(k: &SimdKey, acc: &mut __m128i, aad: &[u8], n: usize) -> (usize, __m128i) {
            match aad_of(aad) {
                Aad::Bytes(b) => {
                    *acc = hash_bytes(k, *acc, b);
                    (0, _mm_setzero_si128())
                }
                block => start_aad(k, acc, block, n),
            }
        }

        /// The length block, byte-reversed, built in a register.
        #[target_feature(enable = $feat)]
        fn lens_block(aad_len: usize, n: usize) -> __m128i {
            _mm_set_epi64x((aad_len as u64).wrapping_mul(8) as i64, (n as u64).wrapping_mul(8) as i64)
        }

        #[target_feature(enable = $feat)]
        fn seal_core<const NR: usize>(
            k: &SimdKey,
            j0v: __m128i,
            aad: Aad<'_>,
            data: &mut [u8],
        ) -> [u8; TAG_LEN] {
            // The key's vectors are made here, not passed in: across a call they would be
            // stored to the stack and loaded back for every packet.
            let g = &regs::<NR>(k);
            // Independent of everything until the end: overlaps the rest. (A spare lane of
            // the tail's AES, as `open_core` uses, measured slower here.)
            let ekj0 = aes1::<NR>(&g.rk, j0v);
            let mut cbase = ctr_base(j0v);
            let n = data.len();
            let lens = lens_block(aad.len(), n);
            let mut acc = _mm_setzero_si128();
            let (pre, first) = start_aad(k, &mut acc, aad, n);

            let mut chunks = data.chunks_exact_mut(CH);
            // The first chunk is encrypted before the loop, so that the loop has one path:
            // with the first chunk's branch inside it, the register allocator rotated the
            // round keys through ten moves twice per chunk (18 zmm moves per 256 bytes).
            let mut pending: Option<[V; K]> = None;
            if let Some(ch) = chunks.next() {
                let mut p = xor_chunk(ch, &aes_k::<NR>(&g.rk, ctrs(cbase)));
                cbase = add32(cbase, lane_const(CB as i32));
                for ch in &mut chunks {
                    let (ks, a) = aes_k_ghash::<NR>(&g.rk, ctrs(cbase), &prepare(&p, acc), &g.hp);
                    acc = a;
                    cbase = add32(cbase, lane_const(CB as i32));
                    p = xor_chunk(ch, &ks);
                }
                pending = Some(p);
            }

            let rest = chunks.into_remainder();
            let r = rest.len();
            let nb = r.div_ceil(16);
            let nv = r.div_ceil(VB);
            let mut c = [vzero(); K];
            if r > 0 {
                let d = load_tail(rest);
                // Only the tail's vectors go through AES, with the last full chunk hashed
                // between the rounds.
                let ks = match &pending {
                    Some(p) => {
                        let (ks, a) = aes_nv_ghash::<NR>(&g.rk, ctrs(cbase), nv, &prepare(p, acc), &g.hp);
                        acc = a;
                        ks
                    }
                    None => aes_nv::<NR>(&g.rk, ctrs(cbase), nv),
                };
                for ((cv, dv), s) in c.iter_mut().zip(d.iter()).zip(ks.iter()).take(nv) {
                    *cv = vxor(*dv, *s);
                }
                // The keystream also covered the padding: clear it for GHASH.
                let keep = r - (nv - 1) * VB;
                c[nv - 1] = vand(c[nv - 1], loadv(&ZMASK[64 - keep..]));
                store_tail(rest, &c);
            } else if let Some(p) = &pending {
                acc = hash_k(&prepare(p, acc), &g.hp);
            }
            acc = tail_hash(k, acc, first, pre, &c, nb, lens);
            let mut tag = [0u8; TAG_LEN];
            store128(&mut tag, _mm_xor_si128(bswap128(acc), ekj0));
            tag
        }

        /// Which of the tail's `vectors` AES vectors has a last lane past the tail's `nb`
        /// blocks: J0 can go there, and E(K, J0) comes out of the AES the tail does anyway
        /// instead of costing ten rounds of its own.
        fn j0_vector(nb: usize, vectors: usize) -> Option<usize> {
            (vectors > 0 && nb < vectors * L).then(|| vectors - 1)
        }

        /// The counter vectors `cs` with J0 in the last lane of vector `at`.
        #[target_feature(enable = $feat)]
        fn with_j0(mut cs: [V; K], at: Option<usize>, j0v: __m128i) -> [V; K] {
            if let Some(v) = at {
                cs[v] = set_last(cs[v], j0v);
            }
            cs
        }

        #[target_feature(enable = $feat)]
        fn open_core<const NR: usize>(
            k: &SimdKey,
            j0v: __m128i,
            aad: Aad<'_>,
            data: &mut [u8],
            tag: &[u8; TAG_LEN],
        ) -> bool {
            let g = &regs::<NR>(k);
            let n = data.len();
            // E(K, J0) rides in a spare lane of the tail's AES when it has one (`j0_vector`);
            // otherwise it is made now, independent of everything until the end. (`seal_core`
            // keeps the separate pass: there the lane measured slower.)
            let j0_in = {
                let r = n % CH;
                let (nv, nb) = (r.div_ceil(VB), r.div_ceil(16));
                if nv + 1 >= K {
                    j0_vector(nb, K)
                } else if r > 0 {
                    j0_vector(nb, nv)
                } else {
                    None
                }
            };
            let mut ekj0 = if j0_in.is_none() { aes1::<NR>(&g.rk, j0v) } else { _mm_setzero_si128() };
            let cbase0 = ctr_base(j0v);
            let mut cbase = cbase0;
            let lens = lens_block(aad.len(), n);
            let mut acc = _mm_setzero_si128();
            let (pre, first) = start_aad(k, &mut acc, aad, n);

            let mut chunks = data.chunks_exact_mut(CH);
            for ch in &mut chunks {
                let mut c = [vzero(); K];
                for (i, cv) in c.iter_mut().enumerate() {
                    *cv = loadv(&ch[i * VB..]);
                }
                let (ks, a) = aes_k_ghash::<NR>(&g.rk, ctrs(cbase), &prepare(&c, acc), &g.hp);
                acc = a;
                cbase = add32(cbase, lane_const(CB as i32));
                for (i, (cv, s)) in c.iter().zip(ks.iter()).enumerate() {
                    storev(&mut ch[i * VB..], vxor(*cv, *s));
                }
            }

            let rest = chunks.into_remainder();
            let r = rest.len();
            let nv = r.div_ceil(VB);
            let nb = r.div_ceil(16);
            let mut c = load_tail(rest);
            if nv + 1 >= K {
                // A tail of K - 1 or K vectors: AES over the whole chunk of counters (at most
                // one vector wasted), with the tail's blocks hashed between the rounds.
                let n_all = pre + nb + 1;
                let mut x = [vzero(); K];
                let mut hp = [vzero(); K];
                for v in 0..K {
                    if v < nv {
                        x[v] = bswap(c[v]);
                        hp[v] = loadv(&k.htab[(POWERS - n_all + pre + v * L) * 16..]);
                    }
                }
                let (ks, th) = aes_k_ghash::<NR>(&g.rk, with_j0(ctrs(cbase), j0_in, j0v), &x, &hp);
                if let Some(v) = j0_in {
                    ekj0 = last(ks[v]);
                }
                acc = _mm_xor_si128(th, fold_ends(k, acc, first, n_all, lens));
                for (cv, s) in c.iter_mut().zip(ks.iter()).take(nv) {
                    *cv = vxor(*cv, *s);
                }
                store_tail(rest, &c);
            } else {
                acc = tail_hash(k, acc, first, pre, &c, nb, lens);
                if r > 0 {
                    let ks = aes_nv::<NR>(&g.rk, with_j0(ctrs(cbase), j0_in, j0v), nv);
                    if let Some(v) = j0_in {
                        ekj0 = last(ks[v]);
                    }
                    for (cv, s) in c.iter_mut().zip(ks.iter()).take(nv) {
                        *cv = vxor(*cv, *s);
                    }
                    store_tail(rest, &c);
                }
            }
            let ok = tag_matches(_mm_xor_si128(bswap128(acc), ekj0), tag);
            if !ok {
                // Decrypted while hashing: put the ciphertext back.
                ctr_xor::<NR>(g, cbase0, data);
            }
            ok
        }

        #[target_feature(enable = $feat)]
        pub(super) fn seal<const NR: usize>(
            k: &SimdKey,
            j0: &[u8; 16],
            aad: &[u8],
            data: &mut [u8],
        ) -> [u8; TAG_LEN] {
            seal_core::<NR>(k, load128(j0), Aad::Bytes(aad), data)
        }

        /// `seal` with J0 and a short AAD as integers (see `GcmKey::seal_packed`).
        #[target_feature(enable = $feat)]
        pub(super) fn seal_packed<const NR: usize>(
            k: &SimdKey,
            j0: u128,
            aad: u128,
            aad_len: usize,
            data: &mut [u8],
        ) -> [u8; TAG_LEN] {
            seal_core::<NR>(k, from_u128(j0), Aad::Block(bswap128(from_u128(aad)), aad_len), data)
        }

        /// `open` with J0 and a short AAD as integers (see `GcmKey::open_packed`).
        #[target_feature(enable = $feat)]
        pub(super) fn open_packed<const NR: usize>(
            k: &SimdKey,
            j0: u128,
            aad: u128,
            aad_len: usize,
            data: &mut [u8],
            tag: &[u8; TAG_LEN],
        ) -> bool {
            open_core::<NR>(k, from_u128(j0), Aad::Block(bswap128(from_u128(aad)), aad_len), data, tag)
        }

        #[target_feature(enable = $feat)]
        pub(super) fn open<const NR: usize>(
            k: &SimdKey,
            j0: &[u8; 16],
            aad: &[u8],
            data: &mut [u8],
            tag: &[u8; TAG_LEN],
        ) -> bool {
            open_core::<NR>(k, load128(j0), Aad::Bytes(aad), data, tag)
        }

        /// An AAD given as bytes, for the cores: a short one becomes a register
        /// straight from its bytes (the packed path), a longer one stays bytes.
        #[target_feature(enable = $feat)]
        fn aad_of<'a>(aad: &'a [u8]) -> Aad<'a> {
            if aad.len() <= 16 {
                Aad::Block(short_aad(aad), aad.len())
            } else {
                Aad::Bytes(aad)
            }
        }

        /// Whether a packet can join a multi-packet group: shorter than a
        /// chunk, with an AAD that joins its final aggregate.
        fn groupable(j: &Job<'_>) -> bool {
            j.data.len() < CH && j.aad.len() <= 16
        }

        /// The length of the group of short packets starting at `jobs[0]`
        /// whose vectors fit in one chunk of AES together (0 or 1: no group).
        fn group_len(jobs: &[Job<'_>]) -> usize {
            let mut vecs = 0;
            let mut n = 0;
            for j in jobs.iter().take(K) {
                let nv = j.data.len().div_ceil(VB);
                if !groupable(j) || vecs + nv > K {
                    break;
                }
                vecs += nv;
                n += 1;
            }
            n
        }

        /// Counter vectors of every packet of a group, packed one after the
        /// other, and E(K, J0) of each.
        #[target_feature(enable = $feat)]
        fn group_keystream<const NR: usize>(g: &Regs, jobs: &[Job<'_>]) -> ([V; K], [__m128i; K]) {
            let mut b = [vzero(); K];
            let mut ekj0 = [_mm_setzero_si128(); K];
            let mut slot = 0;
            for (j, e) in jobs.iter().zip(ekj0.iter_mut()) {
                let j0v = load128(&j0_96(&j.nonce));
                *e = aes1::<NR>(&g.rk, j0v);
                let cb = ctr_base(j0v);
                for v in 0..j.data.len().div_ceil(VB) {
                    b[slot + v] = bswap(add32(cb, lane_const((v * L) as i32)));
                }
                slot += j.data.len().div_ceil(VB);
            }
            (aes_nv::<NR>(&g.rk, b, slot), ekj0)
        }

        /// The AAD block, reversed, of a groupable packet.
        #[target_feature(enable = $feat)]
        fn short_aad(aad: &[u8]) -> __m128i {
            bswap128(from_u128(crate::le_u128(aad)))
        }

        /// Seals a group of short packets: their counter blocks share the
        /// vectors of one AES batch; the hashes are independent streams.
        #[target_feature(enable = $feat)]
        fn seal_group<const NR: usize>(k: &SimdKey, g: &Regs, jobs: &mut [Job<'_>]) {
            let (ks, ekj0) = group_keystream::<NR>(g, jobs);
            let mut slot = 0;
            for (j, e) in jobs.iter_mut().zip(ekj0.iter()) {
                let r = j.data.len();
                let nv = r.div_ceil(VB);
                let d = load_tail(j.data);
                let mut c = [vzero(); K];
                for v in 0..nv {
                    c[v] = vxor(d[v], ks[slot + v]);
                }
                if nv > 0 {
                    let keep = r - (nv - 1) * VB;
                    c[nv - 1] = vand(c[nv - 1], loadv(&ZMASK[64 - keep..]));
                }
                store_tail(j.data, &c);
                let lens = lens_block(j.aad.len(), r);
                let acc = tail_hash(k, _mm_setzero_si128(), short_aad(j.aad), 1, &c, r.div_ceil(16), lens);
                store128(&mut j.tag, _mm_xor_si128(bswap128(acc), *e));
                j.ok = true;
                slot += nv;
            }
        }

        /// Opens a group of short packets (see `seal_group`).
        #[target_feature(enable = $feat)]
        fn open_group<const NR: usize>(k: &SimdKey, g: &Regs, jobs: &mut [Job<'_>]) {
            let (ks, ekj0) = group_keystream::<NR>(g, jobs);
            let mut slot = 0;
            for (j, e) in jobs.iter_mut().zip(ekj0.iter()) {
                let r = j.data.len();
                let nv = r.div_ceil(VB);
                let mut c = load_tail(j.data);
                let lens = lens_block(j.aad.len(), r);
                let acc = tail_hash(k, _mm_setzero_si128(), short_aad(j.aad), 1, &c, r.div_ceil(16), lens);
                j.ok = tag_matches(_mm_xor_si128(bswap128(acc), *e), &j.tag);
                // Only verified packets are decrypted.
                if j.ok {
                    for v in 0..nv {
                        c[v] = vxor(c[v], ks[slot + v]);
                    }
                    store_tail(j.data, &c);
                }
                slot += nv;
            }
        }

        #[target_feature(enable = $feat)]
        pub(super) fn seal_many<const NR: usize>(k: &SimdKey, jobs: &mut [Job<'_>]) {
            let g = regs::<NR>(k);
            let mut rest = jobs;
            while !rest.is_empty() {
                let n = group_len(rest).max(1);
                let (now, later) = rest.split_at_mut(n);
                if n > 1 {
                    seal_group::<NR>(k, &g, now);
                } else {
                    let j = &mut now[0];
                    j.tag = seal_core::<NR>(k, load128(&j0_96(&j.nonce)), aad_of(j.aad), j.data);
                    j.ok = true;
                }
                rest = later;
            }
        }

        #[target_feature(enable = $feat)]
        pub(super) fn open_many<const NR: usize>(k: &SimdKey, jobs: &mut [Job<'_>]) {
            let g = regs::<NR>(k);
            let mut rest = jobs;
            while !rest.is_empty() {
                let n = group_len(rest).max(1);
                let (now, later) = rest.split_at_mut(n);
                if n > 1 {
                    open_group::<NR>(k, &g, now);
                } else {
                    let j = &mut now[0];
                    j.ok = open_core::<NR>(k, load128(&j0_96(&j.nonce)), aad_of(j.aad), j.data, &j.tag);
                }
                rest = later;
            }
        }
    };
}
