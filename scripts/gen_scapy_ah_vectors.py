#!/usr/bin/env python3
"""Generate complete AH packets with scapy, for byte-level interop tests.

Scapy's `scapy.layers.ipsec.SecurityAssociation(AH, ..., auth_algo='SHA2-256-128')` is an AH
implementation (RFC 4302, HMAC-SHA-256-128 per RFC 4868) independent of espgw: it zeroes the
mutable IP fields itself (`zero_mutable_fields`), pads the AH header to 8 bytes over IPv6 and
appends the ESN high half to the ICV input. For every combination below it protects a packet
with a fixed sequence number and records the whole result, IP header to the end of the payload.
The Rust test `gateway/src/ipsec/ah/tests_scapy.rs` checks that espgw's `ah::encapsulate`
produces exactly these bytes and that `ah::locate` + `ah::decapsulate` turn them back into the
original packet.

Cases: tunnel mode with every outer/inner IPv4/IPv6 mix, transport mode over IPv4 and IPv6,
each with ESN off and on (high half 1 or 2), each with two payload sizes.

Tunnel mode: the outer header fields scapy cannot infer are set to what espgw writes (esp.rs
`write_outer`): IPv4 TTL 64, TOS = inner TOS / traffic class (DSCP and ECN, RFC 6040 normal
mode), Identification = seq & 0xffff, DF if the inner IPv4 has DF or the inner is IPv6
(DfPolicy::Copy), no options; IPv6 hop limit 64, traffic class as for IPv4, flow label = the inner
IPv6 flow label (0 for an inner IPv4 packet). scapy computes lengths, protocol / next header
(51) and the IPv4 checksum.

Deterministic: fixed random seed for keys, SPIs, sequence numbers and packets.

Usage:  python3 -m venv /tmp/scapyenv && /tmp/scapyenv/bin/pip install scapy cryptography
        /tmp/scapyenv/bin/python scripts/gen_scapy_ah_vectors.py \
            > gateway/src/ipsec/ah/scapy_ah_vectors.json
"""
import json
import random
import sys

from scapy.all import ICMP, IP, UDP, IPv6, Raw, raw
from scapy.config import conf
from scapy.layers.ipsec import AH, SecurityAssociation

conf.verb = 0

# Tunnel endpoints (documentation prefixes only).
OUTER = {
    False: ("203.0.113.1", "198.51.100.2"),
    True: ("2001:db8:ff::1", "2001:db8:ff::2"),
}

# (mode, outer (tunnel) / packet (transport) IPv6, inner IPv6)
COMBOS = [("tunnel", o, i) for o in (False, True) for i in (False, True)] + [
    ("transport", v, v) for v in (False, True)
]
# Each combination without ESN and with an ESN high half of 1 or 2 (alternating).
CASES = [(m, o, i, esn) for n, (m, o, i) in enumerate(COMBOS) for esn in (None, 1 + n % 2)]

SIZES = [0, 1, 3, 17, 64, 211, 1000, 1400]


def packet(rng, v6, size, idx):
    body = bytes(rng.getrandbits(8) for _ in range(size))
    if v6:
        tc = [0x00, 0xb8, 0x2a, 0x01, 0x48, 0x03][idx % 6]
        pkt = IPv6(src="2001:db8:1::10", dst="2001:db8:2::20", tc=tc,
                   fl=rng.getrandbits(20), hlim=63) / UDP(
            sport=rng.randrange(1024, 65535), dport=rng.randrange(1, 65535)) / Raw(load=body)
    else:
        tos = [0xb8, 0x00, 0x02, 0x29, 0x60, 0x03][idx % 6]
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
    rng = random.Random(0x41483432)  # "AH42": output is reproducible
    out = []
    idx = 0
    for mode, outer_v6, inner_v6, esn_hi in CASES:
        for _ in range(2):
            size = SIZES[idx % len(SIZES)]
            pkt = packet(rng, inner_v6, size, idx)
            idx += 1
            auth_key = bytes(rng.getrandbits(8) for _ in range(32))
            spi = rng.randrange(256, 1 << 32)
            seq_low = rng.getrandbits(32) or 1
            seq = ((esn_hi or 0) << 32) | seq_low

            kw = dict(spi=spi, auth_algo="SHA2-256-128", auth_key=auth_key)
            if mode == "tunnel":
                kw.update(tunnel_header=tunnel_header(outer_v6, pkt, seq))
            if esn_hi is not None:
                kw.update(esn_en=True, esn=esn_hi)
            sa = SecurityAssociation(AH, **kw)
            protected = raw(sa.encrypt(pkt, seq_num=seq_low))

            # Sanity: scapy verifies and strips its own packet back to the original.
            cls = IPv6 if outer_v6 else IP
            opened = sa.decrypt(cls(protected))
            if raw(opened) != raw(pkt):
                sys.exit("scapy round trip failed for vector %d" % len(out))

            if mode == "tunnel":
                src, dst = OUTER[outer_v6]
            else:
                src, dst = pkt.src, pkt.dst
            out.append({
                "mode": mode,
                "auth_key": auth_key.hex(),
                "spi": spi,
                "seq": seq,
                "esn": esn_hi is not None,
                "local": src,
                "remote": dst,
                "inner": raw(pkt).hex(),
                "packet": protected.hex(),
            })
    json.dump({
        "generator": "scripts/gen_scapy_ah_vectors.py",
        "scapy": __import__("scapy").__version__,
        "cryptography": __import__("cryptography").__version__,
        "vectors": out,
    }, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
