//! Phase 1 re-authentication: IKEv1 has no rekey of the ISAKMP SA (RFC 2409 §4 only bounds
//! its lifetime), so before the lifetime ends a new main (or aggressive) mode is run with the
//! same peer, the IPsec SAs move under it, and the old ISAKMP SA is deleted. The IPsec SAs
//! themselves keep running until their own rekey, which then happens under the new ISAKMP
//! SA (quick mode replacing the old pair, make-before-break as usual).
//!
//! The driver owns both SAs during the change (it demultiplexes by cookies):
//!
//! ```text
//! if old.reauth_at() <= now:  (new, out) = IsakmpSa::reauthenticate(cfg, now, rng)
//! ... new.handle_datagram / handle_timeout until new.is_established() ...
//! out = new.take_over(&mut old, now, rng)   // children move; old's delete goes out; old is dead
//! ```
//!
//! Who starts it: the side that started the current phase 1, at 9/10 of the negotiated
//! lifetime; the other side at 19/20 if no new phase 1 from the peer has arrived by then. A
//! peer's new phase 1 while the current one is up is taken as its re-authentication: the
//! responder takes the children over once it is established, but leaves the old ISAKMP SA's
//! delete to the initiator (a delete arriving before the initiator's own take-over would
//! otherwise tear the children down there).

use super::isakmp::{fail, IsakmpSa, Step};
use super::V1Config;
use crate::sa::{DeleteReason, Event, FailureKind, Output};
use rand_core::CryptoRngCore;
use std::sync::Arc;
use std::time::Instant;

impl IsakmpSa {
    /// When this ISAKMP SA should be replaced (see the module documentation); `None` unless
    /// it is established.
    pub fn reauth_at(&self) -> Option<Instant> {
        if self.step != Step::Established {
            return None;
        }
        let est = self.established_at?;
        let life = self.phase1_lifetime();
        Some(if self.initiator { est + life * 9 / 10 } else { est + life * 19 / 20 })
    }

    /// When this ISAKMP SA's negotiated lifetime ends: the hard limit. A re-authentication
    /// that has not succeeded by then (the peer refuses or does not answer new phase 1s) does
    /// not stretch it: [`IsakmpSa::handle_timeout`] then deletes everything, as the peer's
    /// side of the SA is gone too, and the driver starts over.
    pub fn expire_at(&self) -> Option<Instant> {
        if self.step != Step::Established {
            return None;
        }
        Some(self.established_at? + self.phase1_lifetime())
    }

    fn phase1_lifetime(&self) -> std::time::Duration {
        self.p1.as_ref().and_then(|p| p.choice.lifetime).unwrap_or_else(|| self.cfg.ike_lifetime())
    }

    /// The hard end of the lifetime: IPsec SAs and the ISAKMP SA deleted with the peer, and a
    /// failure saying why.
    pub(super) fn expire(&mut self, rng: &mut impl CryptoRngCore, out: &mut Vec<Output>) {
        let life = self.phase1_lifetime().as_secs();
        for c in std::mem::take(&mut self.children) {
            self.send_child_delete(c, DeleteReason::IkeSaDown, rng, out);
        }
        self.send_isakmp_delete(rng, out);
        let f = fail(
            FailureKind::LifetimeExpired,
            format!(
                "phase 1 lifetime ({life} s) expired before a re-authentication with {} succeeded: \
                 IPsec SAs deleted, starting over",
                self.remote
            ),
        );
        self.die(Event::Failed(f), out);
    }

    /// Starts a phase 1 that is to replace an established one: like
    /// [`IsakmpSa::initiate`], but it starts no quick modes once up.
    pub fn reauthenticate(
        cfg: Arc<V1Config>,
        now: Instant,
        rng: &mut impl CryptoRngCore,
    ) -> (IsakmpSa, Vec<Output>) {
        let (mut sa, out) = IsakmpSa::initiate(cfg, now, rng);
        sa.replacing = true;
        (sa, out)
    }

    /// This (established) SA takes over `old`'s IPsec SAs; `old` is dead afterwards. If we
    /// started this phase 1, `old`'s ISAKMP SA is deleted with the peer (only it: the IPsec
    /// SAs live on). Rekeys in flight under `old` are abandoned and start again here.
    /// Emits [`Event::IkeRekeyed`] with the new cookies.
    pub fn take_over(
        &mut self,
        old: &mut IsakmpSa,
        _now: Instant,
        rng: &mut impl CryptoRngCore,
    ) -> Vec<Output> {
        let mut out = Vec::new();
        if self.step != Step::Established || old.step == Step::Dead {
            return out;
        }
        for mut c in std::mem::take(&mut old.children) {
            c.rekeying = false;
            self.children.push(c);
        }
        if self.initiator && old.step == Step::Established {
            old.send_isakmp_delete(rng, &mut out);
        }
        old.die(Event::IkeRekeyed { spi_i: self.cky_i, spi_r: self.cky_r }, &mut out);
        out
    }
}
