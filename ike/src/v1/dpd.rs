//! Dead peer detection (RFC 3706) and the other protected notifies.
//!
//! Only when both peers sent the DPD vendor ID. After `dpd_interval` without an authenticated
//! message from the peer we send R-U-THERE (an informational exchange; the notify's SPI is the
//! cookie pair and its data a 32-bit sequence number), resend with a new sequence number after
//! `timeout·2ⁿ`, and after the configured retransmits declare the peer dead: every IPsec SA is
//! deleted and the DPD action applied (restart begins a new phase 1). R-U-THERE from the peer
//! is answered with R-U-THERE-ACK carrying its sequence number.

use super::codec::payload::Notification;
use super::codec::{NotifyType, ProtocolId};
use super::isakmp::{fail, notify, Dpd, IsakmpSa, Step};
use crate::sa::{DpdAction, Event, FailureKind, Output};
use rand_core::CryptoRngCore;
use std::time::Instant;

impl IsakmpSa {
    pub(super) fn dpd_due(&self) -> Option<Instant> {
        if self.step != Step::Established || !self.peer_dpd {
            return None;
        }
        let interval = self.cfg.peer.dpd_interval?;
        Some(match &self.dpd {
            Some(d) => d.next_at,
            None => self.last_rx + interval,
        })
    }

    fn send_r_u_there(
        &mut self,
        ty: NotifyType,
        seq: u32,
        rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) {
        let n = notify(ProtocolId::ISAKMP, self.spi_pair(), ty, seq.to_be_bytes().to_vec());
        self.send_info(vec![n], rng, out);
    }

    pub(super) fn dpd_timeout(&mut self, now: Instant, rng: &mut impl CryptoRngCore, out: &mut Vec<Output>) {
        let Some(due) = self.dpd_due() else { return };
        if due > now {
            return;
        }
        let rc = self.cfg.peer.retransmit;
        match self.dpd.as_mut() {
            None => {
                self.dpd_seq = self.dpd_seq.wrapping_add(1).max(1);
                let seq = self.dpd_seq;
                self.dpd = Some(Dpd { first_seq: seq, seq, tries: 0, next_at: now + rc.timeout });
                self.send_r_u_there(NotifyType::R_U_THERE, seq, rng, out);
            }
            Some(d) if d.tries >= rc.tries => {
                let f = fail(
                    FailureKind::NoAnswer,
                    format!(
                        "ISAKMP SA failed: no R-U-THERE-ACK from {} after {} retransmits (DPD)",
                        self.remote, d.tries
                    ),
                );
                out.push(Output::Event(Event::Failed(f)));
                let action = self.cfg.peer.dpd_action;
                self.die(Event::PeerDead { action }, out);
                if action == DpdAction::Restart {
                    let (sa, o) = IsakmpSa::initiate(self.cfg.clone(), now, rng);
                    *self = sa;
                    out.extend(o);
                }
            }
            Some(d) => {
                d.tries += 1;
                d.seq = d.seq.wrapping_add(1);
                d.next_at = now + rc.timeout.saturating_mul(1 << d.tries.min(16));
                let seq = d.seq;
                self.dpd_seq = seq;
                self.send_r_u_there(NotifyType::R_U_THERE, seq, rng, out);
            }
        }
    }

    /// A notify from an authenticated informational exchange.
    pub(super) fn protected_notify(
        &mut self,
        _now: Instant,
        n: &Notification,
        rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) {
        let seq = <[u8; 4]>::try_from(n.data.as_slice()).map(u32::from_be_bytes).ok();
        match n.ty {
            NotifyType::R_U_THERE => {
                if let Some(seq) = seq {
                    self.send_r_u_there(NotifyType::R_U_THERE_ACK, seq, rng, out);
                }
            }
            NotifyType::R_U_THERE_ACK => {
                if let (Some(d), Some(seq)) = (&self.dpd, seq) {
                    if seq.wrapping_sub(d.first_seq) <= d.seq.wrapping_sub(d.first_seq) {
                        self.dpd = None;
                    }
                }
            }
            // strongSwan refuses a quick mode before choosing a protocol: protocol 0, no SPI.
            t if t.is_error()
                && matches!(n.protocol, ProtocolId::IPSEC_ESP | ProtocolId::IPSEC_AH | ProtocolId(0)) =>
            {
                self.quick_refused(t, &n.spi, out)
            }
            _ => {}
        }
    }
}
