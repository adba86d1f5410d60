//! IKE fragmentation (RFC 7383): splitting an encrypted message into SKF fragments and
//! collecting the peer's fragments back into one message.
//!
//! Both peers announce IKEV2_FRAGMENTATION_SUPPORTED in IKE_SA_INIT; from then on a protected
//! message (IKE_AUTH and later) whose datagram would exceed the configured fragment size goes
//! out as fragments, each its own protected message (§2.5). Received fragments are verified
//! one by one before they are kept (§2.6); a [`Reassembly`] holds those of one message ID in
//! bounded memory and yields the joined inner chain once the last one is in.

use crate::codec::PayloadType;
use crate::protect::OpenedFragment;

/// At most this many fragments per message: more is refused (a lost cause or an attack).
pub(crate) const MAX_FRAGMENTS: u16 = 64;
/// At most this many inner bytes held per message being reassembled.
pub(crate) const MAX_BYTES: usize = 64 * 1024;

/// The fragments received so far of one message.
#[derive(Debug)]
pub(crate) struct Reassembly {
    pub id: u32,
    total: u16,
    first: PayloadType,
    parts: Vec<Option<Vec<u8>>>,
    bytes: usize,
}

impl Drop for Reassembly {
    fn drop(&mut self) {
        for p in self.parts.iter_mut().flatten() {
            p.iter_mut().for_each(|b| *b = 0);
        }
    }
}

/// Whether the fragment was needed, and the message when it was the last one missing.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Added {
    /// Stored; more to come.
    Pending,
    /// A fragment we already hold, a smaller total than the one we collect, or over the
    /// bounds: dropped.
    Dropped,
    /// Every fragment is in: the inner chain's first payload type and bytes.
    Complete(PayloadType, Vec<u8>),
}

/// Adds a verified fragment of message `id` to `slot` (which holds at most one message).
pub(crate) fn add(slot: &mut Option<Reassembly>, id: u32, f: OpenedFragment) -> Added {
    if f.total == 0 || f.total > MAX_FRAGMENTS || f.number == 0 || f.number > f.total {
        return Added::Dropped;
    }
    // A new message, or the peer re-fragmented into more, smaller pieces (§2.6.1: start
    // over); fewer pieces than we are collecting means a stale fragment.
    let restart = match slot {
        Some(r) if r.id == id => {
            if f.total < r.total {
                return Added::Dropped;
            }
            f.total > r.total
        }
        _ => true,
    };
    if restart {
        *slot = Some(Reassembly {
            id,
            total: f.total,
            first: PayloadType::NONE,
            parts: vec![None; f.total as usize],
            bytes: 0,
        });
    }
    let Some(r) = slot.as_mut() else { return Added::Dropped };
    let i = (f.number - 1) as usize;
    if r.parts[i].is_some() || r.bytes + f.part.len() > MAX_BYTES {
        return Added::Dropped;
    }
    if f.number == 1 {
        r.first = f.first_inner;
    }
    r.bytes += f.part.len();
    r.parts[i] = Some(f.part);
    if r.parts.iter().any(Option::is_none) {
        return Added::Pending;
    }
    let mut joined = Vec::with_capacity(r.bytes);
    for p in r.parts.iter().flatten() {
        joined.extend_from_slice(p);
    }
    let first = r.first;
    *slot = None;
    Added::Complete(first, joined)
}

/// How many bytes of inner chain go into each fragment so that no datagram exceeds
/// `fragment_size` (the whole IP datagram, as strongSwan's `fragment_size` counts it).
/// `overhead` is everything else: IP and UDP headers, the non-ESP marker, and what
/// [`crate::protect::SkProtection::fragment_overhead`] adds.
pub(crate) fn part_len(fragment_size: usize, overhead: usize) -> Option<usize> {
    fragment_size.checked_sub(overhead).filter(|&n| n > 0)
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::codec::{ExchangeType, Flags, Header};

    fn frag(number: u16, total: u16, part: &[u8]) -> OpenedFragment {
        OpenedFragment {
            header: Header {
                spi_i: 1,
                spi_r: 2,
                minor_version: 0,
                exchange: ExchangeType::IKE_AUTH,
                flags: Flags::INITIATOR,
                message_id: 1,
            },
            first_inner: if number == 1 { PayloadType::IDI } else { PayloadType::NONE },
            number,
            total,
            part: part.to_vec(),
        }
    }

    #[test]
    fn any_order_with_duplicates() {
        let mut slot = None;
        assert_eq!(add(&mut slot, 1, frag(3, 3, b"ef")), Added::Pending);
        assert_eq!(add(&mut slot, 1, frag(3, 3, b"ef")), Added::Dropped);
        assert_eq!(add(&mut slot, 1, frag(1, 3, b"ab")), Added::Pending);
        assert_eq!(
            add(&mut slot, 1, frag(2, 3, b"cd")),
            Added::Complete(PayloadType::IDI, b"abcdef".to_vec())
        );
        assert!(slot.is_none());
    }

    #[test]
    fn totals_and_bounds() {
        let mut slot = None;
        assert_eq!(add(&mut slot, 1, frag(1, 2, b"ab")), Added::Pending);
        // Fewer pieces: stale, dropped; more pieces: start over.
        assert_eq!(add(&mut slot, 1, frag(1, 1, b"ab")), Added::Dropped);
        assert_eq!(add(&mut slot, 1, frag(2, 3, b"c")), Added::Pending);
        assert_eq!(add(&mut slot, 1, frag(2, 2, b"c")), Added::Dropped);
        // Another message ID replaces the one being collected.
        assert_eq!(add(&mut slot, 2, frag(1, 2, b"x")), Added::Pending);
        assert_eq!(slot.as_ref().map(|r| r.id), Some(2));
        assert_eq!(add(&mut slot, 2, frag(2, 2, b"y")), Added::Complete(PayloadType::IDI, b"xy".to_vec()));
        // Too many fragments, or too many bytes.
        assert_eq!(add(&mut slot, 3, frag(1, MAX_FRAGMENTS + 1, b"a")), Added::Dropped);
        assert_eq!(add(&mut slot, 3, frag(1, 2, &vec![0; MAX_BYTES])), Added::Pending);
        assert_eq!(add(&mut slot, 3, frag(2, 2, b"!")), Added::Dropped);
    }

    #[test]
    fn part_sizes() {
        assert_eq!(part_len(1280, 100), Some(1180));
        assert_eq!(part_len(100, 100), None);
    }
}
