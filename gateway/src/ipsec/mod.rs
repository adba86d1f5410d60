//! IPsec: ESP (RFC 4303) and AH (RFC 4302) processing for the data plane.
//!
//! - [`crypto`]: ESP transforms (AES-GCM-16 per RFC 4106, AES-CBC with HMAC-SHA1-96 /
//!   HMAC-SHA-256-128 per RFC 3602/2404/4868, NULL with HMAC for tests) and the AH
//!   HMAC-SHA-256-128 transform behind one `Transform` type, in place, keys zeroized on drop.
//! - [`esp`] / [`ah`]: encapsulation and decapsulation on a `PacketBuf`, tunnel and transport
//!   mode.
//! - [`replay`]: the anti-replay window (RFC 6479 bitmap, ESN reconstruction per RFC 4303 A2).
//! - [`spd`]: the security policy database (ordered, first match, indexed by destination).
//! - [`sadb`]: the SA table snapshot workers read (stable slots, inbound by SPI).
//! - `spi_table`: the inbound SPI → SA table one lookup per packet reads.
//! - [`policy_hint`]: which inbound policies settle a decrypted packet's policy checks alone,
//!   and the per-worker hint that then skips the full lookups.
//! - [`datapath`]: the per-worker state (replay windows, IV generator) and protect/unprotect.
//! - [`manual`]: static SAs and policies from the config.

pub mod ah;
pub mod crypto;
pub mod datapath;
pub mod esp;
pub mod manual;
pub mod policy_hint;
pub mod replay;
pub mod sa;
pub mod sadb;
pub mod spd;
pub(crate) mod spi_table;
