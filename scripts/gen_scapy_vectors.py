#!/usr/bin/env python3
"""Generate ESP interop vectors with scapy's IPsec implementation.

Scapy (scapy.layers.ipsec.SecurityAssociation, backed by the `cryptography`
package) is used as an independent ESP implementation: for each algorithm we
build a transport-mode ESP packet and print JSON records holding the keys,
SPI, sequence number, ESN high half, IV, plaintext payload, next header and the
resulting ESP bytes (SPI .. ICV).  The Rust test `tests_scapy.rs` opens every
packet with `Transform` and re-seals the same plaintext (same IV, RFC 4303
default padding 1, 2, 3, ...) expecting byte-identical output.

Usage:  pip install scapy cryptography
        python3 scripts/gen_scapy_vectors.py > src/crypto/scapy_vectors.json
"""
import json
import random
import sys

from scapy.all import IP, UDP, Raw, raw
from scapy.config import conf
from scapy.layers.ipsec import ESP, SecurityAssociation

conf.verb = 0

# (Rust Algorithm variant, scapy crypt_algo, enc key len, scapy auth_algo, auth key len)
ALGS = [
    ("AesGcm16_128", "AES-GCM", 16, None, 0),
    ("AesGcm16_256", "AES-GCM", 32, None, 0),
    ("AesCbc128HmacSha1_96", "AES-CBC", 16, "HMAC-SHA1-96", 20),
    ("AesCbc256HmacSha1_96", "AES-CBC", 32, "HMAC-SHA1-96", 20),
    ("AesCbc128HmacSha256_128", "AES-CBC", 16, "SHA2-256-128", 32),
    ("AesCbc256HmacSha256_128", "AES-CBC", 32, "SHA2-256-128", 32),
    ("NullHmacSha256_128", "NULL", 0, "SHA2-256-128", 32),
]

# Inner payload sizes: raw payload bytes (next header 59 / 253) and inner
# IPv4/UDP packets (next header 4).
RAW_SIZES = [0, 1, 2, 13, 14, 15, 16, 17, 30, 31, 32, 33, 64]
UDP_SIZES = [0, 7, 100, 211, 1000, 1400]


def main():
    rng = random.Random(0x45535067)  # fixed seed: output is reproducible
    out = []
    for name, calg, klen, aalg, alen in ALGS:
        cases = [("raw", n) for n in RAW_SIZES] + [("udp", n) for n in UDP_SIZES]
        for idx, (kind, n) in enumerate(cases):
            esn_en = idx % 2 == 1
            enc_key = bytes(rng.getrandbits(8) for _ in range(klen))
            if calg == "AES-GCM":
                enc_key += bytes(rng.getrandbits(8) for _ in range(4))  # salt
            auth_key = bytes(rng.getrandbits(8) for _ in range(alen))
            spi = rng.getrandbits(32) or 1
            seq = rng.getrandbits(32) or 1
            esn_hi = (rng.getrandbits(32) or 1) if esn_en else 0
            iv_len = {"AES-GCM": 8, "AES-CBC": 16, "NULL": 0}[calg]
            iv = bytes(rng.getrandbits(8) for _ in range(iv_len))

            if kind == "raw":
                nh = 253 if n else 59
                body = bytes(rng.getrandbits(8) for _ in range(n))
                pkt = IP(src="192.0.2.1", dst="192.0.2.2", proto=nh) / Raw(load=body)
                payload = body
            else:
                nh = 4
                inner = IP(src="198.51.100.7", dst="203.0.113.9") / UDP(
                    sport=rng.randrange(1024, 65535), dport=4500
                ) / Raw(load=bytes(rng.getrandbits(8) for _ in range(n)))
                payload = raw(inner)
                pkt = IP(src="192.0.2.1", dst="192.0.2.2", proto=4) / Raw(load=payload)

            kw = dict(spi=spi, crypt_algo=calg, crypt_key=enc_key or None,
                      esn_en=esn_en, esn=esn_hi)
            if aalg:
                kw.update(auth_algo=aalg, auth_key=auth_key)
            sa = SecurityAssociation(ESP, **kw)
            enc = sa.encrypt(pkt, seq_num=seq, iv=iv if iv_len else None)
            esp_bytes = raw(enc[ESP])

            # Sanity: scapy must open its own packet and give back the payload.
            dec = sa.decrypt(enc)
            got = raw(dec[IP].payload)
            if got != payload or dec[IP].proto != nh:
                sys.exit("scapy round trip failed for %s/%s/%d" % (name, kind, n))

            out.append({
                "algorithm": name,
                "enc_key": enc_key.hex(),
                "auth_key": auth_key.hex(),
                "spi": spi,
                "seq": seq,
                "esn": esn_hi if esn_en else None,
                "iv": iv.hex(),
                "payload": payload.hex(),
                "next_header": nh,
                "esp": esp_bytes.hex(),
            })
    json.dump({
        "generator": "scripts/gen_scapy_vectors.py",
        "scapy": __import__("scapy").__version__,
        "cryptography": __import__("cryptography").__version__,
        "vectors": out,
    }, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
