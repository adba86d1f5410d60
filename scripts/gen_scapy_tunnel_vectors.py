#!/usr/bin/env python3
"""Generate complete tunnel-mode ESP packets with scapy, for byte-level interop tests.

Scapy's `scapy.layers.ipsec.SecurityAssociation` (on the `cryptography` package) is an ESP
implementation independent of espgw. For every combination below it encapsulates an inner
packet in tunnel mode (`tunnel_header=IP(...)` / `IPv6(...)`, optionally
`nat_t_header=UDP(sport=4500, dport=4500)`) with a fixed sequence number and IV, and records the
whole result from the outer IP header to the ICV. The Rust test
`gateway/src/ipsec/esp/tests_scapy.rs` checks that espgw's `encapsulate` produces exactly these
bytes and that `classify_inbound` + `decapsulate` turns them back into the inner packet.

Outer header fields are set explicitly to what espgw writes (esp.rs `write_outer`):
  IPv4: TTL 64, TOS = inner TOS / traffic class (DSCP and ECN, RFC 6040 normal mode),
        Identification = seq & 0xffff, DF if the inner IPv4 has DF or the inner is IPv6
        (DfPolicy::Copy), no other flags, fragment offset 0.
  IPv6: hop limit 64, traffic class = inner TOS / traffic class, flow label = the inner IPv6
        flow label (0 for an inner IPv4 packet).
scapy computes lengths, protocol / next header (50, or 17 with NAT-T) and the IPv4 checksum.

NAT-T: over IPv4 scapy writes UDP checksum 0 as RFC 3948 §2.1 allows and espgw does. Over
IPv6 scapy also forces checksum 0, but espgw computes it (RFC 8200 §8.1: zero UDP checksums
are not allowed over IPv6 outside the RFC 6935/6936 exceptions). For the IPv6 NAT-T vectors the
generator therefore lets scapy's own UDP layer recompute the checksum of scapy's packet
(`udp_checksum_recomputed` in the record); every other byte is SecurityAssociation's output.

Deterministic: fixed random seed for keys, SPIs, IVs, sequence numbers and inner packets.

Usage:  python3 -m venv /tmp/scapyenv && /tmp/scapyenv/bin/pip install scapy cryptography
        /tmp/scapyenv/bin/python scripts/gen_scapy_tunnel_vectors.py \
            > gateway/src/ipsec/esp/scapy_tunnel_vectors.json
"""
import json
import random
import sys

from scapy.all import ICMP, IP, UDP, IPv6, Raw, raw
from scapy.config import conf
from scapy.layers.ipsec import ESP, SecurityAssociation

conf.verb = 0

# (espgw Algorithm::from_name, scapy crypt_algo, AES key len, scapy auth_algo, auth key len)
ALGS = [
    ("aes128gcm16", "AES-GCM", 16, None, 0),
    ("aes256gcm16", "AES-GCM", 32, None, 0),
    ("aes128-sha1", "AES-CBC", 16, "HMAC-SHA1-96", 20),
    ("aes256-sha256", "AES-CBC", 32, "SHA2-256-128", 32),
]

# Outer tunnel endpoints (documentation prefixes only).
OUTER = {
    False: ("203.0.113.1", "198.51.100.2"),
    True: ("2001:db8:ff::1", "2001:db8:ff::2"),
}

# Inner payload lengths, cycled over the cases so padding lengths vary.
SIZES = [0, 1, 2, 3, 13, 14, 15, 16, 31, 56, 100, 211, 1000, 1400]

# (outer IPv6, NAT-T, ESN high half or None). ESN vectors use small high halves so the test
# can position a replay window there by accepting packets in steps below 2^31.
OUTER_CASES = [
    (False, False, None),
    (True, False, None),
    (False, True, None),
    (True, True, None),
    (False, False, 1),
    (True, False, 1),
    (False, True, 2),
]


def inner_packet(rng, v6, size, idx):
    body = bytes(rng.getrandbits(8) for _ in range(size))
    if v6:
        tc = [0x00, 0xb8, 0x2a, 0x01, 0x48][idx % 5]
        pkt = IPv6(src="2001:db8:1::10", dst="2001:db8:2::20", tc=tc,
                   fl=rng.getrandbits(20), hlim=63) / UDP(
            sport=rng.randrange(1024, 65535), dport=rng.randrange(1, 65535)) / Raw(load=body)
    else:
        tos = [0xb8, 0x00, 0x02, 0x29, 0x60][idx % 5]
        flags = "DF" if idx % 2 == 0 else 0
        pkt = IP(src="192.0.2.10", dst="198.51.100.20", tos=tos, id=rng.getrandbits(16),
                 flags=flags, ttl=63) / ICMP(type=8, id=rng.getrandbits(16),
                                             seq=rng.getrandbits(16)) / Raw(load=body)
    # Freeze every computed field (lengths, checksums).
    return pkt.__class__(raw(pkt))


def tunnel_header(outer_v6, inner, seq):
    src, dst = OUTER[outer_v6]
    if isinstance(inner, IPv6):
        tos, df, fl = inner.tc, True, inner.fl
    else:
        tos, df, fl = inner.tos, bool(inner.flags.DF), 0
    if outer_v6:
        return IPv6(src=src, dst=dst, tc=tos, fl=fl, hlim=64)
    return IP(src=src, dst=dst, tos=tos, id=seq & 0xffff, flags="DF" if df else 0, frag=0, ttl=64)


def main():
    rng = random.Random(0x54554E4C)  # "TUNL": output is reproducible
    out = []
    idx = 0
    for name, calg, klen, aalg, alen in ALGS:
        for inner_v6 in (False, True):
            for outer_v6, natt, esn_hi in OUTER_CASES:
                size = SIZES[idx % len(SIZES)]
                inner = inner_packet(rng, inner_v6, size, idx)
                idx += 1
                enc_key = bytes(rng.getrandbits(8) for _ in range(klen))
                if calg == "AES-GCM":
                    enc_key += bytes(rng.getrandbits(8) for _ in range(4))  # salt
                auth_key = bytes(rng.getrandbits(8) for _ in range(alen))
                spi = rng.getrandbits(32) or 1
                seq_low = rng.getrandbits(32) or 1
                seq = ((esn_hi or 0) << 32) | seq_low
                iv = bytes(rng.getrandbits(8) for _ in range(8 if calg == "AES-GCM" else 16))

                kw = dict(spi=spi, crypt_algo=calg, crypt_key=enc_key,
                          tunnel_header=tunnel_header(outer_v6, inner, seq))
                if aalg:
                    kw.update(auth_algo=aalg, auth_key=auth_key)
                if natt:
                    kw.update(nat_t_header=UDP(sport=4500, dport=4500))
                if esn_hi is not None:
                    kw.update(esn_en=True, esn=esn_hi)
                sa = SecurityAssociation(ESP, **kw)
                enc = sa.encrypt(inner, seq_num=seq_low, iv=iv)
                recomputed = False
                if natt and outer_v6:
                    assert enc[UDP].chksum == 0
                    del enc[UDP].chksum
                    enc = IPv6(raw(enc))
                    recomputed = True
                packet = raw(enc)

                # Sanity: scapy opens its own packet back into the inner packet.
                dec = sa.decrypt(enc.__class__(packet))
                if raw(dec) != raw(inner):
                    sys.exit("scapy round trip failed for vector %d (%s)" % (len(out), name))

                out.append({
                    "algorithm": name,
                    "enc_key": enc_key.hex(),
                    "auth_key": auth_key.hex(),
                    "spi": spi,
                    "seq": seq,
                    "esn": esn_hi is not None,
                    "natt": natt,
                    "udp_checksum_recomputed": recomputed,
                    "outer_src": OUTER[outer_v6][0],
                    "outer_dst": OUTER[outer_v6][1],
                    "iv": iv.hex(),
                    "inner": raw(inner).hex(),
                    "packet": packet.hex(),
                })
    json.dump({
        "generator": "scripts/gen_scapy_tunnel_vectors.py",
        "scapy": __import__("scapy").__version__,
        "cryptography": __import__("cryptography").__version__,
        "vectors": out,
    }, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
