//! IKE_AUTH with pre-shared keys (RFC 7296 §1.2, §2.15) and the first Child SA.
//!
//! ```text
//! HDR, SK {IDi, AUTH, SAi2, TSi, TSr}  -->
//!                                      <--  HDR, SK {IDr, AUTH, SAr2, TSi, TSr}
//!
//! AUTH = prf(prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>)
//! InitiatorSignedOctets = RealMessage1 | NonceRData | prf(SK_pi, RestOfInitIDPayload)
//! ResponderSignedOctets = RealMessage2 | NonceIData | prf(SK_pr, RestOfRespIDPayload)
//! ```
//!
//! A Child SA that cannot be made (TS_UNACCEPTABLE, NO_PROPOSAL_CHOSEN) does not stop the IKE SA.

use super::init::{error_notify, find_notify, notify_name};
use super::{
    After, ChildReq, Event, Exchange, Failure, FailureKind, IkeSa, Output, Phase, StartAction, Task, Which,
};
use crate::codec::id::Identification;
use crate::codec::notify::Notify;
use crate::codec::payload::{Authentication, Payload};
use crate::codec::{AuthMethod, ExchangeType, NotifyType};
use crate::crypto::prf::PrfAlg;
use crate::crypto::Secret;
use rand_core::CryptoRngCore;
use std::time::Instant;

const KEY_PAD: &[u8] = b"Key Pad for IKEv2";

/// The PSK AUTH value over one side's signed octets.
pub(super) fn psk_auth(
    prf: PrfAlg,
    psk: &Secret,
    real_message: &[u8],
    nonce: &[u8],
    sk_p: &Secret,
    id: &Identification,
) -> Secret {
    let id_mac = prf.prf(sk_p.as_bytes(), &[&id.body_bytes()]);
    let key = prf.prf(psk.as_bytes(), &[KEY_PAD]);
    prf.prf(key.as_bytes(), &[real_message, nonce, id_mac.as_bytes()])
}

fn describe_id(id: &Identification) -> String {
    match id {
        Identification::Ipv4(a) => a.to_string(),
        Identification::Ipv6(a) => a.to_string(),
        Identification::Fqdn(s) => s.clone(),
        Identification::Rfc822(s) => s.clone(),
        other => format!("{other:?}"),
    }
}

impl IkeSa {
    /// Initiator, right after IKE_SA_INIT.
    pub(super) fn send_auth_request(
        &mut self,
        now: Instant,
        rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) {
        let (Phase::Auth(hs), Some(ike)) = (&self.phase, &self.cur) else { return };
        let id = self.config.local_id.clone();
        let auth = psk_auth(ike.suite.prf, &self.config.psk, &hs.init_req, &hs.nr, &ike.sk_pi, &id);
        let mut payloads = vec![
            Payload::IdI(id),
            Payload::Auth(Authentication {
                method: AuthMethod::SHARED_KEY_MIC,
                data: auth.as_bytes().to_vec(),
            }),
        ];
        let first = self
            .first_child
            .or_else(|| self.config.children.iter().position(|c| c.start_action == StartAction::Start));
        let mut child = None;
        if let Some(cfg) = first {
            let req = self.child_request(cfg, None, false, hs.ni.clone(), rng);
            payloads.extend(self.child_request_payloads(&req, false));
            child = Some(req);
        }
        self.send_request(
            Which::Cur,
            ExchangeType::IKE_AUTH,
            &payloads,
            Exchange::Auth(child),
            now,
            rng,
            out,
        );
        // Every other child configured to start comes after IKE_AUTH, one exchange each.
        for (i, c) in self.config.children.iter().enumerate() {
            if c.start_action == StartAction::Start && Some(i) != first {
                self.queue.push_back(Task::NewChild(i));
            }
        }
    }

    fn established(&mut self, now: Instant, out: &mut Vec<Output>) {
        let Some(ike) = &self.cur else { return };
        out.push(Output::Event(Event::IkeEstablished {
            spi_i: ike.spi_i,
            spi_r: ike.spi_r,
            proposal: ike.proposal.clone(),
            nat: self.nat,
        }));
        self.phase = Phase::Established;
        self.ike_rekey_at = self.config.ike_rekey_time.map(|t| now + t);
    }

    /// Responder.
    pub(super) fn on_auth_request(
        &mut self,
        now: Instant,
        payloads: &[Payload],
        rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) -> (Vec<Payload>, After) {
        let (Phase::Auth(hs), Some(ike)) = (&self.phase, &self.cur) else { return (vec![], After::Nothing) };
        if ike.initiator {
            return (vec![], After::Nothing);
        }
        let auth_failed = vec![Payload::Notify(Notify::new(NotifyType::AUTHENTICATION_FAILED, vec![]))];
        let (mut idi, mut auth) = (None, None);
        for p in payloads {
            match p {
                Payload::IdI(i) => idi = Some(i),
                Payload::Auth(a) => auth = Some(a),
                _ => {}
            }
        }
        let (Some(idi), Some(auth)) = (idi, auth) else {
            let f = Failure::new(
                FailureKind::Protocol,
                "IKE_AUTH request without IDi or AUTH (EAP is not supported)",
            );
            out.push(Output::Event(Event::Failed(f)));
            return (vec![Payload::Notify(Notify::new(NotifyType::INVALID_SYNTAX, vec![]))], After::Die);
        };
        if let Some(want) = &self.config.remote_id {
            if want != idi {
                let f = Failure::new(
                    FailureKind::IdentityMismatch,
                    format!(
                        "peer {} authenticates as '{}' but peer '{}' expects '{}'",
                        self.remote.ip(),
                        describe_id(idi),
                        self.config.name,
                        describe_id(want)
                    ),
                );
                out.push(Output::Event(Event::Failed(f)));
                return (auth_failed, After::Die);
            }
        }
        let expect = psk_auth(ike.suite.prf, &self.config.psk, &hs.init_req, &hs.nr, &ike.sk_pi, idi);
        if auth.method != AuthMethod::SHARED_KEY_MIC || !expect.ct_eq(&auth.data) {
            let f = Failure::new(
                FailureKind::AuthenticationFailed,
                format!(
                    "AUTH from '{}' ({}) does not verify with our pre-shared key: the PSKs differ",
                    describe_id(idi),
                    self.remote.ip()
                ),
            );
            out.push(Output::Event(Event::Failed(f)));
            return (auth_failed, After::Die);
        }
        let idr = self.config.local_id.clone();
        let ours = psk_auth(ike.suite.prf, &self.config.psk, &hs.init_resp, &hs.ni, &ike.sk_pr, &idr);
        let (ni, nr) = (hs.ni.clone(), hs.nr.clone());
        let mut reply = vec![
            Payload::IdR(idr),
            Payload::Auth(Authentication {
                method: AuthMethod::SHARED_KEY_MIC,
                data: ours.as_bytes().to_vec(),
            }),
        ];
        self.established(now, out);
        if payloads.iter().any(|p| matches!(p, Payload::Sa(_))) {
            reply.extend(self.respond_child(Which::Cur, now, payloads, None, (&ni, &nr), true, rng, out).0);
        }
        (reply, After::Nothing)
    }

    /// Initiator.
    pub(super) fn on_auth_response(
        &mut self,
        now: Instant,
        child: Option<ChildReq>,
        payloads: &[Payload],
        rng: &mut impl CryptoRngCore,
        out: &mut Vec<Output>,
    ) {
        let _ = rng;
        let (Phase::Auth(hs), Some(ike)) = (&self.phase, &self.cur) else { return };
        if find_notify(payloads, NotifyType::AUTHENTICATION_FAILED).is_some() {
            let f = Failure::new(
                FailureKind::AuthenticationFailed,
                format!(
                    "peer {} rejected our authentication as '{}' (AUTHENTICATION_FAILED): check the pre-shared \
                     key and the IDs configured on both sides",
                    self.remote.ip(),
                    describe_id(&self.config.local_id)
                ),
            );
            self.fail(f, out);
            return;
        }
        let (mut idr, mut auth) = (None, None);
        for p in payloads {
            match p {
                Payload::IdR(i) => idr = Some(i),
                Payload::Auth(a) => auth = Some(a),
                _ => {}
            }
        }
        let (Some(idr), Some(auth)) = (idr, auth) else {
            let what = error_notify(payloads).map_or_else(|| "no IDr/AUTH".to_owned(), |n| notify_name(n.ty));
            self.fail(
                Failure::new(FailureKind::PeerError, format!("peer answered IKE_AUTH with {what}")),
                out,
            );
            return;
        };
        if let Some(want) = &self.config.remote_id {
            if want != idr {
                let f = Failure::new(
                    FailureKind::IdentityMismatch,
                    format!(
                        "responder authenticates as '{}' but we expect '{}'",
                        describe_id(idr),
                        describe_id(want)
                    ),
                );
                self.fail(f, out);
                return;
            }
        }
        let expect = psk_auth(ike.suite.prf, &self.config.psk, &hs.init_resp, &hs.ni, &ike.sk_pr, idr);
        if auth.method != AuthMethod::SHARED_KEY_MIC || !expect.ct_eq(&auth.data) {
            let f = Failure::new(
                FailureKind::AuthenticationFailed,
                format!(
                    "responder '{}' AUTH does not verify with our pre-shared key: the PSKs differ",
                    describe_id(idr)
                ),
            );
            self.fail(f, out);
            return;
        }
        let nonces = (hs.ni.clone(), hs.nr.clone());
        self.established(now, out);
        if let Some(req) = child {
            self.complete_child(Which::Cur, now, req, payloads, Some(nonces), out);
        }
    }
}
