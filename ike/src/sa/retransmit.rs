//! Retransmission of our outstanding request (RFC 7296 §2.1, §2.4): a window of one, the same
//! bytes resent after `timeout`, `2·timeout`, `4·timeout`, ... and the peer declared gone after
//! the configured number of retransmits.

use super::config::RetransmitConfig;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub(crate) struct Outstanding {
    pub id: u32,
    /// The IKE message, or its fragments (RFC 7383: a retransmit resends them all), without
    /// any non-ESP marker: ports may change while it is outstanding.
    pub messages: Vec<Vec<u8>>,
    retransmits: u32,
    next_at: Instant,
}

/// What a timeout calls for.
pub(crate) enum Retransmit<'a> {
    Resend(&'a [Vec<u8>]),
    GiveUp { retransmits: u32 },
}

fn wait(cfg: &RetransmitConfig, n: u32) -> Duration {
    cfg.timeout.saturating_mul(1u32 << n.min(16))
}

impl Outstanding {
    pub fn new(id: u32, messages: Vec<Vec<u8>>, now: Instant, cfg: &RetransmitConfig) -> Outstanding {
        Outstanding { id, messages, retransmits: 0, next_at: now + wait(cfg, 0) }
    }

    pub fn next_at(&self) -> Instant {
        self.next_at
    }

    /// Call when `next_at` has passed.
    pub fn on_timeout(&mut self, now: Instant, cfg: &RetransmitConfig) -> Retransmit<'_> {
        if self.retransmits >= cfg.tries {
            return Retransmit::GiveUp { retransmits: self.retransmits };
        }
        self.retransmits += 1;
        self.next_at = now + wait(cfg, self.retransmits);
        Retransmit::Resend(&self.messages)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn exponential_back_off_then_give_up() {
        let cfg = RetransmitConfig { timeout: Duration::from_secs(1), tries: 3 };
        let t0 = Instant::now();
        let mut o = Outstanding::new(5, vec![vec![1], vec![2]], t0, &cfg);
        let mut at = vec![o.next_at() - t0];
        while let Retransmit::Resend(m) = o.on_timeout(o.next_at(), &cfg) {
            assert_eq!(m, &[vec![1], vec![2]]);
            at.push(o.next_at() - t0);
        }
        let secs: Vec<u64> = at.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, vec![1, 3, 7, 15]);
        assert!(matches!(o.on_timeout(t0, &cfg), Retransmit::GiveUp { retransmits: 3 }));
    }
}
