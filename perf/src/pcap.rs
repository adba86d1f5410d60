//! Writes the benchmark's input: a pcap file of Ethernet/IPv4/UDP frames.

use gateway::wire::checksum;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::Path;

/// `count` frames of `frame_len` bytes (without FCS; 60 = a 64-byte frame on the wire) from
/// 192.0.2.10 to 203.0.113.{1..=250}, with valid IPv4 and UDP checksums.
pub fn write_udp_frames(
    path: &Path,
    dst_mac: [u8; 6],
    frame_len: usize,
    count: usize,
) -> std::io::Result<()> {
    write_udp_frames_by(path, dst_mac, |_| frame_len, count)
}

/// As [`write_udp_frames`], frame `i` being `len(i)` bytes (without FCS).
pub fn write_udp_frames_by(
    path: &Path,
    dst_mac: [u8; 6],
    len: impl Fn(usize) -> usize,
    count: usize,
) -> std::io::Result<()> {
    let frames = (0..count).map(|i| {
        let dst = Ipv4Addr::new(203, 0, 113, 1 + (i % 250) as u8);
        let frame_len = len(i);
        assert!(frame_len >= 42);
        udp_frame(dst_mac, Ipv4Addr::new(192, 0, 2, 10), dst, 1024 + (i % 1000) as u16, frame_len)
    });
    write_frames(path, frames)
}

/// Simple IMIX, frame sizes with FCS: 7 of 64 B, 4 of 576 B and 1 of 1420 B in every 12
/// frames (interleaved), 1420 rather than 1500 so that the ESP packet still fits a 1500-byte
/// MTU. The mean is 357 B.
pub fn imix_len(i: usize) -> usize {
    const PATTERN: [usize; 12] = [64, 576, 64, 64, 576, 64, 1420, 64, 576, 64, 576, 64];
    PATTERN[i % PATTERN.len()]
}

/// Writes Ethernet frames as a classic pcap file (v2.4, microsecond timestamps, linktype 1),
/// one record per frame, timestamps 0 s + i µs.
pub fn write_frames(path: &Path, frames: impl IntoIterator<Item = Vec<u8>>) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    // Global header: magic, v2.4, zone 0, sigfigs 0, snaplen 65535, linktype 1 (Ethernet).
    out.write_all(&0xa1b2c3d4u32.to_le_bytes())?;
    out.write_all(&2u16.to_le_bytes())?;
    out.write_all(&4u16.to_le_bytes())?;
    out.write_all(&[0; 8])?;
    out.write_all(&65535u32.to_le_bytes())?;
    out.write_all(&1u32.to_le_bytes())?;
    for (i, f) in frames.into_iter().enumerate() {
        out.write_all(&0u32.to_le_bytes())?;
        out.write_all(&((i % 1_000_000) as u32).to_le_bytes())?;
        out.write_all(&(f.len() as u32).to_le_bytes())?;
        out.write_all(&(f.len() as u32).to_le_bytes())?;
        out.write_all(&f)?;
    }
    out.flush()
}

/// Reads up to `max` frames from a classic little-endian pcap file (as net_pcap's `tx_pcap`
/// writes them). Truncated trailing records (a capture cut short) are ignored.
pub fn read_frames(path: &Path, max: usize) -> std::io::Result<Vec<Vec<u8>>> {
    let data = std::fs::read(path)?;
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let magic = data.get(..4).ok_or_else(|| bad("short pcap header"))?;
    if magic != 0xa1b2c3d4u32.to_le_bytes() && magic != 0xa1b23c4du32.to_le_bytes() {
        return Err(bad("not a little-endian classic pcap file"));
    }
    let mut frames = Vec::new();
    let mut at = 24;
    while frames.len() < max {
        let Some(h) = data.get(at..at + 16) else { break };
        let caplen = u32::from_le_bytes([h[8], h[9], h[10], h[11]]) as usize;
        let Some(f) = data.get(at + 16..at + 16 + caplen) else { break };
        frames.push(f.to_vec());
        at += 16 + caplen;
    }
    Ok(frames)
}

/// An Ethernet/IPv4/UDP frame of `frame_len` bytes (no FCS), DF set, TTL 64, from MAC
/// 02:00:00:00:00:10 to `dst_mac`, UDP destination port 9, valid checksums.
pub fn udp_frame(dst_mac: [u8; 6], src: Ipv4Addr, dst: Ipv4Addr, sport: u16, frame_len: usize) -> Vec<u8> {
    let mut f = vec![0u8; frame_len];
    f[0..6].copy_from_slice(&dst_mac);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x10]);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip_len = frame_len - 14;
    let ip = &mut f[14..];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
    ip[6] = 0x40; // DF
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&src.octets());
    ip[16..20].copy_from_slice(&dst.octets());
    let c = checksum::checksum(&ip[..20]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let udp_len = ip_len - 20;
    let udp = &mut ip[20..];
    udp[0..2].copy_from_slice(&sport.to_be_bytes());
    udp[2..4].copy_from_slice(&9u16.to_be_bytes());
    udp[4..6].copy_from_slice(&(udp_len as u16).to_be_bytes());
    let c = !checksum::combine(&[
        checksum::pseudo_header_v4(src, dst, gateway::wire::IpProtocol::UDP, udp_len as u32),
        checksum::sum(&udp[..udp_len]),
    ]);
    udp[6..8].copy_from_slice(&(if c == 0 { 0xffff } else { c }).to_be_bytes());
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_have_valid_checksums() {
        let f = udp_frame(
            [2, 0, 0, 0, 0, 1],
            Ipv4Addr::new(192, 0, 2, 10),
            Ipv4Addr::new(203, 0, 113, 7),
            5000,
            60,
        );
        assert_eq!(f.len(), 60);
        let ip = gateway::wire::ipv4::Packet::new_checked(&f[14..]).unwrap();
        assert!(ip.verify_checksum());
        let udp = gateway::wire::udp::Packet::new_checked(ip.payload()).unwrap();
        assert!(udp.verify_checksum(ip.src_addr().into(), ip.dst_addr().into()));
    }

    #[test]
    fn pcap_round_trips_and_ignores_a_truncated_tail() {
        let dir = std::env::temp_dir().join(format!("espgw-perf-pcap-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.pcap");
        let frames: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 60 + i as usize]).collect();
        write_frames(&path, frames.clone()).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 24 + frames.iter().map(|f| 16 + f.len()).sum::<usize>());
        assert_eq!(&bytes[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(read_frames(&path, 100).unwrap(), frames);
        assert_eq!(read_frames(&path, 2).unwrap(), frames[..2].to_vec());
        std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
        assert_eq!(read_frames(&path, 100).unwrap(), frames[..4].to_vec());
        std::fs::write(&path, b"nope").unwrap();
        assert!(read_frames(&path, 1).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
