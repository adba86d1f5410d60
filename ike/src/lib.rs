//! espgw's IKE control plane: IKEv2 (RFC 7296) and IKEv1 (RFC 2409, [`v1`]).
//!
//! * [`codec`]: the IKEv2 message codec: header view, every payload, registries as open
//!   newtypes, strict parsing that never panics, owned [`codec::Message`] that round-trips.
//! * [`crypto`]: the crypto suite: PRFs and prf+, integrity, SK ciphers, Diffie-Hellman groups,
//!   and the key derivations of RFC 7296 §2.13–2.18.
//! * [`protect`]: sealing and opening SK-protected messages (codec + crypto).
//! * [`sa`]: the IKE SA state machine: IKE_SA_INIT, IKE_AUTH (PSK), CREATE_CHILD_SA,
//!   INFORMATIONAL, retransmission, NAT-T, rekeying, liveness checks.
//! * [`v1`]: IKEv1: the ISAKMP codec, RFC 2409 key derivation and the [`v1::IsakmpSa`] state
//!   machine (main / aggressive / quick mode with PSK, NAT-T, DPD), with the same outputs.
//!
//! Everything here is sans-I/O: no sockets, no clock (callers pass `now`), and no randomness
//! drawn internally (callers pass an RNG or the random bytes in).

#![forbid(unsafe_code)]

pub mod codec;
pub mod crypto;
pub mod protect;
pub mod sa;
pub mod v1;
