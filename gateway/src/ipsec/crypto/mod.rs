//! ESP (RFC 4303) and AH (RFC 4302) crypto transforms.
//!
//! A [`Transform`] holds the expanded keys of one Security Association
//! direction. An ESP transform protects / unprotects whole ESP packets in
//! place:
//!
//! ```text
//! | SPI (4) | Seq (4) | IV (iv_len) | payload ‖ padding ‖ pad_len ‖ next_header | ICV (icv_len) |
//!                                   \____________ ciphertext (ct) ____________/
//! ```
//!
//! * AES-GCM-16 (RFC 4106): nonce = salt ‖ IV, AAD = SPI ‖ [SeqHi ‖] SeqLo,
//!   16-byte ICV.
//! * AES-CBC (RFC 3602) + HMAC-SHA1-96 (RFC 2404) / HMAC-SHA-256-128
//!   (RFC 4868): encrypt-then-MAC; the ICV covers SPI .. ciphertext and,
//!   with ESN, the high sequence half appended (RFC 4303 §3.3.2.1).
//! * NULL encryption (RFC 2410) + HMAC-SHA-256-128, for tests.
//!
//! An AH transform (HMAC-SHA-256-128, RFC 4868) only computes and checks an
//! ICV over bytes the caller prepares ([`Transform::ah_sign`] /
//! [`Transform::ah_verify`]): which IP header fields are zeroed is AH's
//! business (`ipsec::ah`), not the transform's. ESP `seal`/`open` refuse an AH
//! transform and the AH calls refuse an ESP one
//! ([`CryptoError::WrongProtocol`]).
//!
//! Padding is the caller's business: `seal` expects the plaintext region to be
//! already padded to [`Algorithm::block_align`], and `open` leaves padding
//! checks to the caller. No allocation happens per packet and no input
//! panics; keys are expanded once in [`Transform::new`] and wiped on drop.

mod cbc_hmac;
mod gcm;
mod integ;
mod null;

#[cfg(test)]
mod test_util;
#[cfg(test)]
mod tests_ah;
#[cfg(test)]
mod tests_esp;
#[cfg(test)]
mod tests_scapy;
#[cfg(test)]
mod tests_vectors;

use core::fmt;

/// Length of the fixed ESP header (SPI + sequence number low half).
pub const ESP_HEADER_LEN: usize = 8;

/// The ESP and AH transforms supported by the gateway.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// AES-128-GCM with a 16-byte ICV (RFC 4106), IKEv2 ENCR 20, 128-bit key.
    AesGcm16_128,
    /// AES-256-GCM with a 16-byte ICV (RFC 4106), IKEv2 ENCR 20, 256-bit key.
    AesGcm16_256,
    /// AES-128-CBC (RFC 3602) with HMAC-SHA1-96 (RFC 2404).
    AesCbc128HmacSha1_96,
    /// AES-256-CBC (RFC 3602) with HMAC-SHA1-96 (RFC 2404).
    AesCbc256HmacSha1_96,
    /// AES-128-CBC (RFC 3602) with HMAC-SHA-256-128 (RFC 4868).
    AesCbc128HmacSha256_128,
    /// AES-256-CBC (RFC 3602) with HMAC-SHA-256-128 (RFC 4868).
    AesCbc256HmacSha256_128,
    /// NULL encryption (RFC 2410) with HMAC-SHA-256-128: for tests only.
    NullHmacSha256_128,
    /// AH (RFC 4302) integrity with HMAC-SHA-256-128 (RFC 4868), 256-bit key.
    AhHmacSha256_128,
}

impl Algorithm {
    /// Every supported algorithm, ESP then AH.
    pub const ALL: [Algorithm; 8] = [
        Algorithm::AesGcm16_128,
        Algorithm::AesGcm16_256,
        Algorithm::AesCbc128HmacSha1_96,
        Algorithm::AesCbc256HmacSha1_96,
        Algorithm::AesCbc128HmacSha256_128,
        Algorithm::AesCbc256HmacSha256_128,
        Algorithm::NullHmacSha256_128,
        Algorithm::AhHmacSha256_128,
    ];

    /// The algorithms ESP can use ([`Transform::seal`] / [`Transform::open`]).
    pub const ESP: [Algorithm; 7] = [
        Algorithm::AesGcm16_128,
        Algorithm::AesGcm16_256,
        Algorithm::AesCbc128HmacSha1_96,
        Algorithm::AesCbc256HmacSha1_96,
        Algorithm::AesCbc128HmacSha256_128,
        Algorithm::AesCbc256HmacSha256_128,
        Algorithm::NullHmacSha256_128,
    ];

    /// The algorithms AH can use ([`Transform::ah_sign`] / [`Transform::ah_verify`]).
    pub const AH: [Algorithm; 1] = [Algorithm::AhHmacSha256_128];

    /// Whether this is an AH (integrity-only) algorithm rather than an ESP one.
    pub const fn is_ah(self) -> bool {
        matches!(self, Algorithm::AhHmacSha256_128)
    }

    /// Length of the explicit IV carried in every packet (0 for AH).
    pub const fn iv_len(self) -> usize {
        match self {
            Algorithm::AesGcm16_128 | Algorithm::AesGcm16_256 => gcm::IV_LEN,
            Algorithm::AesCbc128HmacSha1_96
            | Algorithm::AesCbc256HmacSha1_96
            | Algorithm::AesCbc128HmacSha256_128
            | Algorithm::AesCbc256HmacSha256_128 => cbc_hmac::IV_LEN,
            Algorithm::NullHmacSha256_128 | Algorithm::AhHmacSha256_128 => 0,
        }
    }

    /// Length of the ICV (integrity check value) trailing every ESP packet;
    /// for AH, the ICV without the AH header's alignment padding.
    pub const fn icv_len(self) -> usize {
        match self {
            Algorithm::AesGcm16_128 | Algorithm::AesGcm16_256 => gcm::ICV_LEN,
            Algorithm::AesCbc128HmacSha1_96 | Algorithm::AesCbc256HmacSha1_96 => 12,
            Algorithm::AesCbc128HmacSha256_128
            | Algorithm::AesCbc256HmacSha256_128
            | Algorithm::NullHmacSha256_128
            | Algorithm::AhHmacSha256_128 => 16,
        }
    }

    /// Alignment the ciphertext (payload ‖ padding ‖ pad_len ‖ next_header)
    /// must have: 4 for GCM / NULL (RFC 4303 §2.4), 16 for CBC. AH has no
    /// ciphertext; 4 is reported (its header alignment over IPv4, RFC 4302
    /// §2.6; over IPv6 it is 8, which `ipsec::ah` handles).
    pub const fn block_align(self) -> usize {
        match self {
            Algorithm::AesCbc128HmacSha1_96
            | Algorithm::AesCbc256HmacSha1_96
            | Algorithm::AesCbc128HmacSha256_128
            | Algorithm::AesCbc256HmacSha256_128 => 16,
            Algorithm::AesGcm16_128
            | Algorithm::AesGcm16_256
            | Algorithm::NullHmacSha256_128
            | Algorithm::AhHmacSha256_128 => 4,
        }
    }

    /// Length of the encryption key material; for GCM it includes the
    /// trailing 4-byte salt (RFC 4106 §8.1): 20 or 36.
    pub const fn enc_key_len(self) -> usize {
        match self {
            Algorithm::AesGcm16_128 => 16 + gcm::SALT_LEN,
            Algorithm::AesGcm16_256 => 32 + gcm::SALT_LEN,
            Algorithm::AesCbc128HmacSha1_96 | Algorithm::AesCbc128HmacSha256_128 => 16,
            Algorithm::AesCbc256HmacSha1_96 | Algorithm::AesCbc256HmacSha256_128 => 32,
            Algorithm::NullHmacSha256_128 | Algorithm::AhHmacSha256_128 => 0,
        }
    }

    /// Length of the integrity key (0 for the combined-mode GCM).
    pub const fn auth_key_len(self) -> usize {
        match self {
            Algorithm::AesGcm16_128 | Algorithm::AesGcm16_256 => 0,
            Algorithm::AesCbc128HmacSha1_96 | Algorithm::AesCbc256HmacSha1_96 => 20,
            Algorithm::AesCbc128HmacSha256_128
            | Algorithm::AesCbc256HmacSha256_128
            | Algorithm::NullHmacSha256_128
            | Algorithm::AhHmacSha256_128 => 32,
        }
    }

    /// Shortest ESP packet `seal`/`open` accept: header, IV, one
    /// `block_align` unit of ciphertext (room for pad_len and next_header)
    /// and the ICV. Anything shorter is [`CryptoError::Truncated`].
    pub const fn min_packet_len(self) -> usize {
        ESP_HEADER_LEN + self.iv_len() + self.block_align() + self.icv_len()
    }

    /// Whether this is a combined-mode (AEAD) algorithm.
    pub const fn is_aead(self) -> bool {
        matches!(self, Algorithm::AesGcm16_128 | Algorithm::AesGcm16_256)
    }

    /// The ESP / AH proposal keyword strongSwan uses for this algorithm
    /// (`sha256` is its AH keyword for HMAC-SHA-256-128).
    pub const fn name(self) -> &'static str {
        match self {
            Algorithm::AesGcm16_128 => "aes128gcm16",
            Algorithm::AesGcm16_256 => "aes256gcm16",
            Algorithm::AesCbc128HmacSha1_96 => "aes128-sha1",
            Algorithm::AesCbc256HmacSha1_96 => "aes256-sha1",
            Algorithm::AesCbc128HmacSha256_128 => "aes128-sha256",
            Algorithm::AesCbc256HmacSha256_128 => "aes256-sha256",
            Algorithm::NullHmacSha256_128 => "null-sha256",
            Algorithm::AhHmacSha256_128 => "sha256",
        }
    }

    /// Inverse of [`Algorithm::name`].
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.name() == name)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Errors of [`Transform::new`], [`Transform::seal`] and [`Transform::open`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CryptoError {
    /// A key of the wrong length was given to [`Transform::new`]
    /// (encryption key checked first, then the integrity key).
    KeyLength { expected: usize, got: usize },
    /// The buffer is shorter than [`Algorithm::min_packet_len`].
    Truncated,
    /// The ciphertext length is not a multiple of the required alignment:
    /// [`Algorithm::block_align`] for `seal`; the cipher block (16) for
    /// CBC `open`.
    Misaligned,
    /// The ICV does not verify. The buffer content is unspecified
    /// (it is left as received: nothing is decrypted).
    IcvMismatch,
    /// An ESP call on an AH transform or an AH call on an ESP transform.
    WrongProtocol,
}

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CryptoError::KeyLength { expected, got } => {
                write!(f, "wrong key length: expected {expected} bytes, got {got}")
            }
            CryptoError::Truncated => f.write_str("ESP packet too short"),
            CryptoError::Misaligned => f.write_str("ESP ciphertext length not aligned"),
            CryptoError::IcvMismatch => f.write_str("ICV mismatch"),
            CryptoError::WrongProtocol => f.write_str("transform used with the wrong IPsec protocol"),
        }
    }
}

impl std::error::Error for CryptoError {}

/// Keyed state of one algorithm. Every variant wipes its secrets on drop
/// (the AES key schedules through the `aes` crate's `zeroize` feature, our
/// own fields through `ZeroizeOnDrop`).
enum Keys {
    Gcm(gcm::GcmKey),
    Cbc(cbc_hmac::CbcHmacKey),
    Null(null::NullKey),
    Ah(integ::Integ),
}

/// Expanded keys of one SA direction for one [`Algorithm`].
pub struct Transform {
    alg: Algorithm,
    keys: Keys,
}

impl fmt::Debug for Transform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transform").field("algorithm", &self.alg).finish_non_exhaustive()
    }
}

/// Where the pieces of an ESP packet are, once its length was validated.
struct Layout {
    /// Offset of the ciphertext (= end of the IV).
    ct_start: usize,
    /// Offset of the ICV (= end of the ciphertext).
    icv_start: usize,
}

impl Transform {
    /// Expands `enc_key` / `auth_key` for `alg`. Their lengths must be
    /// exactly [`Algorithm::enc_key_len`] and [`Algorithm::auth_key_len`].
    pub fn new(alg: Algorithm, enc_key: &[u8], auth_key: &[u8]) -> Result<Transform, CryptoError> {
        check_len(alg.enc_key_len(), enc_key)?;
        check_len(alg.auth_key_len(), auth_key)?;
        let keys = match alg {
            Algorithm::AesGcm16_128 | Algorithm::AesGcm16_256 => Keys::Gcm(
                gcm::GcmKey::new(enc_key)
                    .ok_or(CryptoError::KeyLength { expected: alg.enc_key_len(), got: enc_key.len() })?,
            ),
            Algorithm::AesCbc128HmacSha1_96
            | Algorithm::AesCbc256HmacSha1_96
            | Algorithm::AesCbc128HmacSha256_128
            | Algorithm::AesCbc256HmacSha256_128 => {
                let kind =
                    if alg.auth_key_len() == 20 { integ::HashKind::Sha1 } else { integ::HashKind::Sha256 };
                let cipher = cbc_hmac::CbcCipher::new(enc_key)
                    .ok_or(CryptoError::KeyLength { expected: alg.enc_key_len(), got: enc_key.len() })?;
                Keys::Cbc(cbc_hmac::CbcHmacKey::new(cipher, integ::Integ::new(kind, auth_key)))
            }
            Algorithm::NullHmacSha256_128 => {
                Keys::Null(null::NullKey::new(integ::Integ::new(integ::HashKind::Sha256, auth_key)))
            }
            Algorithm::AhHmacSha256_128 => Keys::Ah(integ::Integ::new(integ::HashKind::Sha256, auth_key)),
        };
        Ok(Transform { alg, keys })
    }

    /// The algorithm this transform was built for.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    fn layout(&self, len: usize, align: usize) -> Result<Layout, CryptoError> {
        let alg = self.alg;
        if len < alg.min_packet_len() {
            return Err(CryptoError::Truncated);
        }
        let ct_start = ESP_HEADER_LEN + alg.iv_len();
        let icv_start = len - alg.icv_len();
        if !(icv_start - ct_start).is_multiple_of(align) {
            return Err(CryptoError::Misaligned);
        }
        Ok(Layout { ct_start, icv_start })
    }

    /// Protects one outbound packet in place.
    ///
    /// `esp` is the whole ESP packet as it will be on the wire:
    /// SPI(4) | Seq(4) | IV(iv_len) | padded plaintext | ICV space(icv_len).
    /// The plaintext must already be padded by the caller (payload ‖ padding
    /// ‖ pad_len ‖ next_header, a multiple of [`Algorithm::block_align`]);
    /// the ICV space's contents are ignored and overwritten. The caller fills
    /// the IV beforehand (unique per SA: e.g. the 64-bit sequence number for
    /// GCM per RFC 4106 §3.1, random for CBC).
    ///
    /// `esn` is the ESN high half (RFC 4303 §2.2.1) when extended sequence
    /// numbers are in use: it goes into the AAD for GCM (RFC 4106 §5) or is
    /// appended to the ICV input for HMAC (RFC 4303 §3.3.2.1).
    pub fn seal(&self, esp: &mut [u8], esn: Option<u32>) -> Result<(), CryptoError> {
        if self.alg.is_ah() {
            return Err(CryptoError::WrongProtocol);
        }
        let l = self.layout(esp.len(), self.alg.block_align())?;
        match &self.keys {
            Keys::Gcm(k) => k.seal(esp, l.ct_start, l.icv_start, esn),
            Keys::Cbc(k) => k.seal(esp, l.ct_start, l.icv_start, esn),
            Keys::Null(k) => k.seal(esp, l.icv_start, esn),
            Keys::Ah(_) => return Err(CryptoError::WrongProtocol),
        }
        Ok(())
    }

    /// Unprotects one inbound packet in place.
    ///
    /// The ICV is verified in constant time before anything is decrypted
    /// (HMAC over the ciphertext; the GCM tag computed over the ciphertext),
    /// then the ciphertext is decrypted in place. On error nothing was
    /// decrypted and the buffer's plaintext region must not be trusted.
    /// Padding and next header are checked by the caller.
    pub fn open(&self, esp: &mut [u8], esn: Option<u32>) -> Result<(), CryptoError> {
        let align = match self.keys {
            Keys::Cbc(_) => cbc_hmac::BLOCK_LEN,
            Keys::Gcm(_) | Keys::Null(_) => 1,
            Keys::Ah(_) => return Err(CryptoError::WrongProtocol),
        };
        let l = self.layout(esp.len(), align)?;
        let ok = match &self.keys {
            Keys::Gcm(k) => k.open(esp, l.ct_start, l.icv_start, esn),
            Keys::Cbc(k) => k.open(esp, l.ct_start, l.icv_start, esn),
            Keys::Null(k) => k.open(esp, l.icv_start, esn),
            Keys::Ah(_) => return Err(CryptoError::WrongProtocol),
        };
        if ok {
            Ok(())
        } else {
            Err(CryptoError::IcvMismatch)
        }
    }

    /// Computes the AH ICV (RFC 4302 §3.3.3) into `icv` ([`Algorithm::icv_len`]
    /// bytes). `packet` is the whole IP packet as the ICV covers it: mutable
    /// header fields and the ICV field already zeroed by the caller, alignment
    /// padding as transmitted. With ESN, `esn` (the high sequence half) is
    /// appended to the ICV input and not transmitted (RFC 4302 §2.5.1).
    pub fn ah_sign(&self, packet: &[u8], esn: Option<u32>, icv: &mut [u8]) -> Result<(), CryptoError> {
        let Keys::Ah(k) = &self.keys else { return Err(CryptoError::WrongProtocol) };
        if icv.len() != self.alg.icv_len() {
            return Err(CryptoError::Truncated);
        }
        let hi = esn_bytes(esn);
        k.sign(&integ::esp_parts(packet, &hi), icv);
        Ok(())
    }

    /// Checks an AH ICV in constant time; `packet` and `esn` as for
    /// [`Transform::ah_sign`], `icv` the received value.
    pub fn ah_verify(&self, packet: &[u8], esn: Option<u32>, icv: &[u8]) -> Result<(), CryptoError> {
        let Keys::Ah(k) = &self.keys else { return Err(CryptoError::WrongProtocol) };
        if icv.len() != self.alg.icv_len() {
            return Err(CryptoError::Truncated);
        }
        let hi = esn_bytes(esn);
        if k.verify(&integ::esp_parts(packet, &hi), icv) {
            Ok(())
        } else {
            Err(CryptoError::IcvMismatch)
        }
    }
}

fn check_len(expected: usize, key: &[u8]) -> Result<(), CryptoError> {
    if key.len() == expected {
        Ok(())
    } else {
        Err(CryptoError::KeyLength { expected, got: key.len() })
    }
}

/// The 4-byte big-endian ESN high half, if any.
#[inline]
fn esn_bytes(esn: Option<u32>) -> Option<[u8; 4]> {
    esn.map(u32::to_be_bytes)
}
