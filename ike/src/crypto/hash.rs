//! SHA-1 / SHA-2 and HMAC (RFC 2104), built on the raw compression functions of the `sha1` /
//! `sha2` crates as the gateway's ESP integrity is: the precomputed H(K ^ ipad) / H(K ^ opad)
//! chaining values are our own fields and are wiped on drop, and so is every buffer that held
//! key-derived bytes.

use sha2::digest::generic_array::GenericArray;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Largest digest here (SHA-512).
pub const MAX_DIGEST_LEN: usize = 64;
const MAX_BLOCK_LEN: usize = 128;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlg {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    pub const fn digest_len(self) -> usize {
        match self {
            HashAlg::Sha1 => 20,
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }

    pub const fn block_len(self) -> usize {
        match self {
            HashAlg::Sha1 | HashAlg::Sha256 => 64,
            HashAlg::Sha384 | HashAlg::Sha512 => 128,
        }
    }

    /// Width of the message-length field in the final block.
    const fn length_field_len(self) -> usize {
        match self {
            HashAlg::Sha1 | HashAlg::Sha256 => 8,
            HashAlg::Sha384 | HashAlg::Sha512 => 16,
        }
    }
}

/// A chaining value.
#[derive(Clone, Zeroize)]
enum State {
    Sha1([u32; 5]),
    Sha256([u32; 8]),
    /// SHA-384 and SHA-512 (different IV, truncated output).
    Sha512([u64; 8]),
}

impl State {
    fn initial(alg: HashAlg) -> State {
        match alg {
            HashAlg::Sha1 => State::Sha1([0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476, 0xc3d2_e1f0]),
            HashAlg::Sha256 => State::Sha256([
                0x6a09_e667,
                0xbb67_ae85,
                0x3c6e_f372,
                0xa54f_f53a,
                0x510e_527f,
                0x9b05_688c,
                0x1f83_d9ab,
                0x5be0_cd19,
            ]),
            HashAlg::Sha384 => State::Sha512([
                0xcbbb_9d5d_c105_9ed8,
                0x629a_292a_367c_d507,
                0x9159_015a_3070_dd17,
                0x152f_ecd8_f70e_5939,
                0x6733_2667_ffc0_0b31,
                0x8eb4_4a87_6858_1511,
                0xdb0c_2e0d_64f9_8fa7,
                0x47b5_481d_befa_4fa4,
            ]),
            HashAlg::Sha512 => State::Sha512([
                0x6a09_e667_f3bc_c908,
                0xbb67_ae85_84ca_a73b,
                0x3c6e_f372_fe94_f82b,
                0xa54f_f53a_5f1d_36f1,
                0x510e_527f_ade6_82d1,
                0x9b05_688c_2b3e_6c1f,
                0x1f83_d9ab_fb41_bd6b,
                0x5be0_cd19_137e_2179,
            ]),
        }
    }

    /// Compresses one block (`block.len()` is the algorithm's block length).
    fn compress(&mut self, block: &[u8]) {
        match self {
            State::Sha1(s) => sha1::compress(s, core::slice::from_ref(GenericArray::from_slice(block))),
            State::Sha256(s) => sha2::compress256(s, core::slice::from_ref(GenericArray::from_slice(block))),
            State::Sha512(s) => sha2::compress512(s, core::slice::from_ref(GenericArray::from_slice(block))),
        }
    }

    /// Big-endian serialisation of the whole state into `out`.
    fn write(&self, out: &mut [u8; MAX_DIGEST_LEN]) {
        match self {
            State::Sha1(s) => {
                out.chunks_exact_mut(4).zip(s).for_each(|(o, w)| o.copy_from_slice(&w.to_be_bytes()))
            }
            State::Sha256(s) => {
                out.chunks_exact_mut(4).zip(s).for_each(|(o, w)| o.copy_from_slice(&w.to_be_bytes()))
            }
            State::Sha512(s) => {
                out.chunks_exact_mut(8).zip(s).for_each(|(o, w)| o.copy_from_slice(&w.to_be_bytes()))
            }
        }
    }
}

/// Streaming Merkle–Damgård hashing.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Hasher {
    #[zeroize(skip)]
    alg: HashAlg,
    state: State,
    buf: [u8; MAX_BLOCK_LEN],
    buf_len: usize,
    total: u64,
}

impl Hasher {
    pub fn new(alg: HashAlg) -> Hasher {
        Hasher::resume(alg, State::initial(alg), 0)
    }

    fn resume(alg: HashAlg, state: State, already: u64) -> Hasher {
        Hasher { alg, state, buf: [0u8; MAX_BLOCK_LEN], buf_len: 0, total: already }
    }

    pub fn update(&mut self, mut data: &[u8]) {
        let bl = self.alg.block_len();
        self.total = self.total.wrapping_add(data.len() as u64);
        if self.buf_len > 0 {
            let take = (bl - self.buf_len).min(data.len());
            self.buf[self.buf_len..self.buf_len + take].copy_from_slice(&data[..take]);
            self.buf_len += take;
            data = &data[take..];
            if self.buf_len < bl {
                return;
            }
            self.state.compress(&self.buf[..bl]);
            self.buf_len = 0;
        }
        let mut blocks = data.chunks_exact(bl);
        for b in &mut blocks {
            self.state.compress(b);
        }
        let rest = blocks.remainder();
        self.buf[..rest.len()].copy_from_slice(rest);
        self.buf_len = rest.len();
    }

    /// Pads (0x80, zeros, big-endian bit length) and writes the digest; returns its length.
    pub fn finalize_into(mut self, out: &mut [u8; MAX_DIGEST_LEN]) -> usize {
        let bl = self.alg.block_len();
        let lf = self.alg.length_field_len();
        let bits = u128::from(self.total).wrapping_mul(8);
        let mut n = self.buf_len;
        self.buf[n] = 0x80;
        n += 1;
        if n > bl - lf {
            self.buf[n..bl].fill(0);
            self.state.compress(&self.buf[..bl]);
            n = 0;
        }
        self.buf[n..bl - lf].fill(0);
        self.buf[bl - lf..bl].copy_from_slice(&bits.to_be_bytes()[16 - lf..]);
        self.state.compress(&self.buf[..bl]);
        self.state.write(out);
        self.alg.digest_len()
    }

    /// One-shot digest.
    pub fn digest(alg: HashAlg, parts: &[&[u8]]) -> Vec<u8> {
        let mut h = Hasher::new(alg);
        parts.iter().for_each(|p| h.update(p));
        let mut out = [0u8; MAX_DIGEST_LEN];
        let n = h.finalize_into(&mut out);
        out[..n].to_vec()
    }
}

/// A keyed HMAC: the chaining values after the ipad and opad blocks.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Hmac {
    #[zeroize(skip)]
    alg: HashAlg,
    inner: State,
    outer: State,
}

impl Hmac {
    /// Any key length; keys longer than a block are hashed first (RFC 2104 §2).
    pub fn new(alg: HashAlg, key: &[u8]) -> Hmac {
        let bl = alg.block_len();
        let mut k0 = [0u8; MAX_BLOCK_LEN];
        if key.len() > bl {
            let mut h = Hasher::new(alg);
            h.update(key);
            let mut d = [0u8; MAX_DIGEST_LEN];
            let n = h.finalize_into(&mut d);
            k0[..n].copy_from_slice(&d[..n]);
            d.zeroize();
        } else {
            k0[..key.len()].copy_from_slice(key);
        }
        let mut pad = [0u8; MAX_BLOCK_LEN];
        let mut keyed = |byte: u8| {
            for (p, k) in pad.iter_mut().zip(k0.iter()) {
                *p = k ^ byte;
            }
            let mut s = State::initial(alg);
            s.compress(&pad[..bl]);
            s
        };
        let inner = keyed(0x36);
        let outer = keyed(0x5c);
        pad.zeroize();
        k0.zeroize();
        Hmac { alg, inner, outer }
    }

    pub fn alg(&self) -> HashAlg {
        self.alg
    }

    /// Full HMAC of the concatenation of `parts` into `out`; returns the digest length.
    pub fn mac_into(&self, parts: &[&[u8]], out: &mut [u8; MAX_DIGEST_LEN]) -> usize {
        let bl = self.alg.block_len() as u64;
        let mut h = Hasher::resume(self.alg, self.inner.clone(), bl);
        for p in parts {
            h.update(p);
        }
        let mut inner = [0u8; MAX_DIGEST_LEN];
        let n = h.finalize_into(&mut inner);
        let mut o = Hasher::resume(self.alg, self.outer.clone(), bl);
        o.update(&inner[..n]);
        inner.zeroize();
        o.finalize_into(out)
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::codec::test_util::hex;

    const ALGS: [HashAlg; 4] = [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512];

    fn mac(alg: HashAlg, key: &[u8], data: &[u8]) -> Vec<u8> {
        let mut out = [0u8; MAX_DIGEST_LEN];
        let n = Hmac::new(alg, key).mac_into(&[data], &mut out);
        out[..n].to_vec()
    }

    #[test]
    fn fips_180_abc() {
        let want = [
            "a9993e364706816aba3e25717850c26c9cd0d89d",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
             2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        ];
        for (alg, w) in ALGS.iter().zip(want) {
            assert_eq!(Hasher::digest(*alg, &[b"abc"]), hex(w), "{alg:?}");
        }
    }

    #[test]
    fn streaming_matches_one_shot_at_every_split() {
        let data: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
        for alg in ALGS {
            let whole = Hasher::digest(alg, &[&data]);
            for split in [0, 1, 55, 56, 63, 64, 65, 111, 112, 127, 128, 129, 299] {
                assert_eq!(Hasher::digest(alg, &[&data[..split], &data[split..]]), whole, "{alg:?} {split}");
            }
        }
    }

    /// RFC 2202 (HMAC-SHA-1) and RFC 4231 (HMAC-SHA-2) test cases 1, 2, 3 and 6.
    #[test]
    fn rfc_2202_and_4231() {
        let cases: [(Vec<u8>, &[u8], [&str; 4]); 4] = [
            (
                vec![0x0b; 20],
                b"Hi There",
                [
                    "b617318655057264e28bc0b6fb378c8ef146be00",
                    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
                    "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c\
                     faea9ea9076ede7f4af152e8b2fa9cb6",
                    "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde\
                     daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
                ],
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?",
                [
                    "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
                    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
                    "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e\
                     8e2240ca5e69e2c78b3239ecfab21649",
                    "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
                     9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
                ],
            ),
            (
                vec![0xaa; 20],
                &[0xdd; 50],
                [
                    "125d7342b9ac11cd91a39af48aa17b4f63f175d3",
                    "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
                    "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b\
                     2a5ab39dc13814b94e3ab6e101a34f27",
                    "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39\
                     bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb",
                ],
            ),
            (
                vec![0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                [
                    "90d0dace1c1bdc957339307803160335bde6df2b",
                    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
                    "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c6\
                     0c2ef6ab4030fe8296248df163f44952",
                    "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352\
                     6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
                ],
            ),
        ];
        for (key, data, want) in &cases {
            for (alg, w) in ALGS.iter().zip(want) {
                assert_eq!(mac(*alg, key, data), hex(w), "{alg:?}");
            }
        }
    }
}
