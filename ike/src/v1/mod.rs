//! IKEv1 (RFC 2409 over ISAKMP, RFC 2408) for peers that speak nothing newer.
pub mod codec;
pub mod nat;
