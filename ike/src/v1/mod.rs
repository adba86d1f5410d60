//! IKEv1 (RFC 2409 over ISAKMP, RFC 2408) for peers that speak nothing newer (VMware Cloud on
//! AWS, older firewalls; AWS accepts main mode only), sharing the IKEv2 crypto suite and the
//! IKEv2 state machine's [`Output`](crate::sa::Output) / [`ChildSa`](crate::sa::ChildSa) /
//! [`Failure`](crate::sa::Failure) types, so one driver serves both protocols.
//!
//! * [`codec`]: ISAKMP header and payloads, strict and panic-free;
//! * [`crypto`]: SKEYID and friends, key expansion, CBC IV chaining, KEYMAT (RFC 2409 §5,
//!   Appendix B);
//! * [`IsakmpSa`]: the sans-I/O state machine: main mode and (if enabled) aggressive mode with
//!   pre-shared keys ([`phase1`]), quick mode with PFS and several SAs per ISAKMP SA
//!   ([`quick`]), NAT-T ([`nat`], RFC 3947), DPD ([`dpd`], RFC 3706), deletes and
//!   make-before-break phase 2 rekeying;
//! * [`reauth`]: phase 1 re-authentication before the ISAKMP SA's lifetime ends, the IPsec SAs
//!   moving under the new ISAKMP SA.
//!
//! ```text
//! let (mut sa, out) = IsakmpSa::initiate(cfg, now, rng);        // or, for a message 1 with CKY-R 0:
//! let (sa, out) = IsakmpSa::accept(cfg, now, src, dst, &dgram, rng);
//! sa.handle_datagram(now, src, dst, &dgram, rng) -> Vec<Output>
//! sa.poll_timeout() -> Option<Instant>;  sa.handle_timeout(now, rng) -> Vec<Output>
//! sa.initiate_child / rekey_child / delete_child / delete_ike
//! sa.reauth_at();  IsakmpSa::reauthenticate(..);  new.take_over(&mut old, now, rng)
//! ```

pub mod codec;
pub mod config;
pub mod crypto;
pub mod dpd;
mod isakmp;
pub mod nat;
pub mod phase1;
pub mod proposal;
pub mod quick;
pub mod reauth;

pub use config::V1Config;
pub use isakmp::IsakmpSa;
