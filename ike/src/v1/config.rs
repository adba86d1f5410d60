//! IKEv1 peer configuration: the IKEv2 [`PeerConfig`] (addresses, IDs, PSK, proposals,
//! children, DPD, retransmits) plus what only IKEv1 has.
//!
//! How the shared fields read for IKEv1: `ike_proposals` are phase 1 transforms (AES-CBC only;
//! the PRF names the hash); `ike_rekey_time` is the phase 1 lifetime offered; a child's
//! `rekey_time` is its soft lifetime (the offered hard lifetime is a ninth longer) and its
//! ESP proposal's DH groups mean PFS; only the first local and remote selector of a child are
//! used (one proxy-ID pair per quick mode: write several children for policy-based VPNs).

use crate::sa::PeerConfig;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct V1Config {
    pub peer: PeerConfig,
    /// Aggressive mode (3 messages, identities and a PSK-keyed hash in the clear, open to
    /// offline PSK guessing). Off by default; [`V1Config::warnings`] says so when on.
    pub aggressive: bool,
    /// Phase 1 lifetime in kilobytes, offered as a second life type (not enforced here).
    pub ike_lifetime_kb: Option<u64>,
    /// Phase 2 lifetime in kilobytes (the data plane enforces it).
    pub child_lifetime_kb: Option<u64>,
    /// Offer and accept NAT traversal (RFC 3947).
    pub nat_t: bool,
    /// Set the commit bit (RFC 2408 §3.1) in our quick modes: the responder installs on
    /// message 3 and confirms with a fourth message (HASH(4), N(CONNECTED)), and only then
    /// does the initiator install and send. Honoured whenever the peer sets it.
    pub commit_bit: bool,
}

impl V1Config {
    pub fn new(peer: PeerConfig) -> V1Config {
        V1Config {
            peer,
            aggressive: false,
            ike_lifetime_kb: None,
            child_lifetime_kb: None,
            nat_t: true,
            commit_bit: false,
        }
    }

    /// The phase 1 lifetime we offer.
    pub fn ike_lifetime(&self) -> Duration {
        self.peer.ike_rekey_time.unwrap_or(Duration::from_secs(28800))
    }

    /// Hard lifetime offered for a child; its soft lifetime is `rekey_time`.
    pub fn child_lifetime(&self, child: usize) -> Duration {
        match self.peer.children.get(child).and_then(|c| c.rekey_time) {
            Some(r) => r + r / 9,
            None => Duration::from_secs(3600),
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        self.peer.validate()?;
        for p in &self.peer.ike_proposals {
            if p.encr.iter().any(|e| e.is_aead()) {
                return Err(format!(
                    "peer {}: IKEv1 phase 1 has no AES-GCM; use aes128/aes256",
                    self.peer.name
                ));
            }
        }
        Ok(())
    }

    /// What an admin should be told about this configuration.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = self.peer.warnings();
        if self.aggressive {
            w.push(format!(
                "peer {}: IKEv1 aggressive mode is enabled: identities travel in the clear and a \
                 passive observer can run an offline dictionary attack on the pre-shared key",
                self.peer.name
            ));
        }
        w
    }
}
