//! IPv4 fragmentation (RFC 791 §3.2) for the control path: a packet without DF that is too big
//! for its tunnel is cut into fragments before encryption (RFC 4459 §5.1), so that the far
//! host reassembles and no outer fragment ever exists.

use crate::wire::checksum;

/// Fragments the IPv4 packet `ip` (header with options, then payload; `ip.len()` is its total
/// length) into packets of at most `mtu` bytes, the TTL lowered by one. Options are copied to
/// the first fragment only, except those with the copy flag (RFC 791). Returns `None` for a
/// packet with DF set, a malformed header, or an MTU too small for 8 payload bytes.
pub fn fragment_v4(ip: &[u8], mtu: usize) -> Option<Vec<Vec<u8>>> {
    let hl = ((*ip.first()? & 0x0f) as usize) * 4;
    if ip.first()? >> 4 != 4 || hl < 20 || ip.len() < hl {
        return None;
    }
    let total = u16::from_be_bytes([ip[2], ip[3]]) as usize;
    if total != ip.len() {
        return None;
    }
    let flags = u16::from_be_bytes([ip[6], ip[7]]);
    if flags & 0x4000 != 0 {
        return None;
    }
    let base_offset = (flags & 0x1fff) as usize * 8;
    let more_after = flags & 0x2000 != 0;
    let header = &ip[..hl];
    let later_header = copied_options_header(header);
    let payload = &ip[hl..];
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < payload.len() {
        let h: &[u8] = if pos == 0 { header } else { &later_header };
        let room = mtu.checked_sub(h.len())? & !7;
        if room == 0 {
            return None;
        }
        let end = (pos + room).min(payload.len());
        let last = end == payload.len();
        let mut f = Vec::with_capacity(h.len() + end - pos);
        f.extend_from_slice(h);
        f.extend_from_slice(&payload[pos..end]);
        let len = f.len() as u16;
        f[2..4].copy_from_slice(&len.to_be_bytes());
        let off = ((base_offset + pos) / 8) as u16;
        let mf = if !last || more_after { 0x2000 } else { 0 };
        f[6..8].copy_from_slice(&(off | mf).to_be_bytes());
        f[8] = f[8].saturating_sub(1);
        f[10] = 0;
        f[11] = 0;
        let hlen = h.len();
        let c = checksum::checksum(&f[..hlen]);
        f[10..12].copy_from_slice(&c.to_be_bytes());
        out.push(f);
        pos = end;
    }
    Some(out)
}

/// The header for fragments after the first: only options with the copied flag, padded with
/// end-of-options to a multiple of 4 bytes.
fn copied_options_header(header: &[u8]) -> Vec<u8> {
    let mut h = header[..20].to_vec();
    let mut opts = &header[20..];
    while let Some(&kind) = opts.first() {
        match kind {
            0 => break,
            1 => opts = &opts[1..],
            _ => {
                let len = opts.get(1).map_or(0, |&l| l as usize);
                if len < 2 || len > opts.len() {
                    break;
                }
                if kind & 0x80 != 0 {
                    h.extend_from_slice(&opts[..len]);
                }
                opts = &opts[len..];
            }
        }
    }
    while !h.len().is_multiple_of(4) {
        h.push(0);
    }
    h[0] = 0x40 | (h.len() / 4) as u8;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(payload: usize, options: &[u8]) -> Vec<u8> {
        let hl = 20 + options.len();
        let mut p = vec![0u8; hl + payload];
        p[0] = 0x40 | (hl / 4) as u8;
        p[2..4].copy_from_slice(&((hl + payload) as u16).to_be_bytes());
        p[4..6].copy_from_slice(&0x1234u16.to_be_bytes());
        p[8] = 64;
        p[9] = 17;
        p[12..16].copy_from_slice(&[192, 0, 2, 2]);
        p[16..20].copy_from_slice(&[198, 51, 100, 2]);
        p[20..hl].copy_from_slice(options);
        for (i, b) in p[hl..].iter_mut().enumerate() {
            *b = i as u8;
        }
        let c = checksum::checksum(&p[..hl]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p
    }

    /// Reassembles by offset and checks every fragment's header along the way.
    fn reassemble(frags: &[Vec<u8>], mtu: usize) -> Vec<u8> {
        let mut data = Vec::new();
        for (i, f) in frags.iter().enumerate() {
            assert!(f.len() <= mtu, "fragment {i} is {} > {mtu}", f.len());
            let hl = ((f[0] & 0x0f) as usize) * 4;
            assert_eq!(checksum::checksum(&f[..hl]), 0, "fragment {i} header checksum");
            assert_eq!(u16::from_be_bytes([f[2], f[3]]) as usize, f.len());
            assert_eq!(&f[4..6], &[0x12, 0x34], "same identification");
            assert_eq!(f[8], 63, "TTL lowered once");
            let w = u16::from_be_bytes([f[6], f[7]]);
            assert_eq!((w & 0x1fff) as usize * 8, data.len(), "offsets contiguous");
            assert_eq!(w & 0x2000 != 0, i + 1 < frags.len(), "MF on all but the last");
            data.extend_from_slice(&f[hl..]);
        }
        data
    }

    #[test]
    fn fragments_reassemble_to_the_original_payload() {
        for (payload, mtu) in [(1480usize, 1400usize), (3000, 1421), (9000, 576), (100, 68), (16, 28)] {
            let p = packet(payload, &[]);
            let frags = fragment_v4(&p, mtu).unwrap();
            assert_eq!(reassemble(&frags, mtu), p[20..], "payload {payload} mtu {mtu}");
        }
    }

    #[test]
    fn only_copied_options_repeat_and_df_is_respected() {
        // Record route (7, not copied) and a copied option (0x94 router alert), padded.
        let opts = [7, 7, 4, 0, 0, 0, 0, 0x94, 4, 0, 0, 0];
        let p = packet(2000, &opts);
        let frags = fragment_v4(&p, 1000).unwrap();
        assert_eq!(frags[0][0] & 0x0f, 8, "first fragment keeps every option");
        assert_eq!(frags[1][0] & 0x0f, 6, "later fragments carry only the copied option");
        assert_eq!(&frags[1][20..24], &[0x94, 4, 0, 0]);
        let mut df = packet(2000, &[]);
        df[6] |= 0x40;
        assert!(fragment_v4(&df, 1000).is_none());
        assert!(fragment_v4(&packet(100, &[]), 27).is_none(), "no room for 8 bytes");
        for n in 0..40 {
            let _ = fragment_v4(&p[..n], 600);
        }
    }
}
