//! IPsec: ESP (RFC 4303) and AH (RFC 4302) processing for the data plane.
//!
//! - [`crypto`]: ESP transforms (AES-GCM-16 per RFC 4106, AES-CBC with HMAC-SHA1-96 /
//!   HMAC-SHA-256-128 per RFC 3602/2404/4868, NULL with HMAC for tests) and the AH
//!   HMAC-SHA-256-128 transform behind one `Transform` type, in place, keys zeroized on drop.
//! - [`esp`] / [`ah`]: encapsulation and decapsulation on a `PacketBuf`, tunnel and transport
//!   mode.
//! - [`replay`]: the anti-replay window (RFC 6479 bitmap, ESN reconstruction per RFC 4303 A2).

pub mod ah;
pub mod crypto;
pub mod esp;
pub mod replay;
pub mod sa;
