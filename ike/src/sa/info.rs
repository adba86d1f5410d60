//! INFORMATIONAL exchanges (RFC 7296 §1.4, §1.5): deleting Child SAs and the IKE SA, and the
//! empty request that checks the peer is alive (§2.4).
//!
//! ```text
//! HDR, SK {D(ESP, SPIs)}  -->  <--  HDR, SK {D(ESP, our SPIs of the same pairs)}
//! HDR, SK {D(IKE)}        -->  <--  HDR, SK {}
//! HDR, SK {}              -->  <--  HDR, SK {}
//! ```

use super::{After, ChildSaDeleted, ChildState, DeleteReason, Exchange, IkeSa, Output, Which};
use crate::codec::delete::Delete;
use crate::codec::payload::Payload;
use crate::codec::{ExchangeType, ProtocolId};
use rand_core::CryptoRngCore;
use std::time::Instant;

impl IkeSa {
    fn remove_child(&mut self, spi_in: u32, by_peer: bool, out: &mut Vec<Output>) {
        let Some(idx) = self.children.iter().position(|c| c.spi_in == spi_in) else { return };
        let c = self.children.remove(idx);
        let reason = match (c.replaced, by_peer) {
            (true, _) => DeleteReason::Rekeyed,
            (false, true) => DeleteReason::DeletedByPeer,
            (false, false) => DeleteReason::Deleted,
        };
        out.push(Output::DeleteChild(ChildSaDeleted {
            name: self.child_name(c.cfg).to_owned(),
            spi_in: c.spi_in,
            spi_out: c.spi_out,
            reason,
        }));
    }

    pub(super) fn start_delete_child(
        &mut self,
        spi_in: u32,
        now: Instant,
        rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) {
        let Some(c) =
            self.children.iter_mut().find(|c| c.spi_in == spi_in && c.state != ChildState::Deleting)
        else {
            return;
        };
        c.state = ChildState::Deleting;
        c.rekey_at = None;
        let d = vec![Payload::Delete(Delete::child(ProtocolId::ESP, &[spi_in]))];
        self.send_request(
            Which::Cur,
            ExchangeType::INFORMATIONAL,
            &d,
            Exchange::Delete(vec![spi_in]),
            now,
            rng,
            out,
        );
    }

    pub(super) fn on_delete_response(&mut self, spis: &[u32], out: &mut Vec<Output>) {
        for &s in spis {
            self.remove_child(s, false, out);
        }
    }

    pub(super) fn on_informational_request(
        &mut self,
        w: Which,
        payloads: &[Payload],
        out: &mut Vec<Output>,
    ) -> (Vec<Payload>, After) {
        let _ = w;
        let mut ours = Vec::new();
        for p in payloads {
            let Payload::Delete(d) = p else { continue };
            match d.protocol {
                ProtocolId::IKE => return (vec![], After::Close),
                ProtocolId::ESP | ProtocolId::AH => {
                    for spi in &d.spis {
                        let Ok(b) = <[u8; 4]>::try_from(spi.as_slice()) else { continue };
                        let spi_out = u32::from_be_bytes(b);
                        let Some(c) = self.children.iter().find(|c| c.spi_out == spi_out) else { continue };
                        // A pair we are deleting ourselves is not repeated in the answer (§1.4.1).
                        if c.state != ChildState::Deleting {
                            ours.push(c.spi_in);
                        }
                        let spi_in = c.spi_in;
                        self.remove_child(spi_in, true, out);
                    }
                }
                _ => {}
            }
        }
        if ours.is_empty() {
            (vec![], After::Nothing)
        } else {
            (vec![Payload::Delete(Delete::child(ProtocolId::ESP, &ours))], After::Nothing)
        }
    }
}
