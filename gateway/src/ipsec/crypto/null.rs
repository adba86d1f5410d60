//! NULL encryption (RFC 2410) with an HMAC integrity transform: the payload
//! travels in clear, the ICV covers SPI | Seq | payload (‖ SeqHi with ESN).
//! Meant for tests and debugging only.

use super::integ::{esp_parts, Integ};

/// Keyed state of a NULL + HMAC transform (wipes itself on drop).
pub(super) struct NullKey {
    pub(super) integ: Integ,
}

impl NullKey {
    pub(super) fn new(integ: Integ) -> NullKey {
        NullKey { integ }
    }

    pub(super) fn seal(&self, esp: &mut [u8], icv_start: usize, esn: Option<u32>) {
        let (authed, icv) = esp.split_at_mut(icv_start);
        let hi = super::esn_bytes(esn);
        self.integ.sign(&esp_parts(authed, &hi), icv);
    }

    pub(super) fn open(&self, esp: &mut [u8], icv_start: usize, esn: Option<u32>) -> bool {
        let (authed, icv) = esp.split_at(icv_start);
        let hi = super::esn_bytes(esn);
        self.integ.verify(&esp_parts(authed, &hi), icv)
    }
}
