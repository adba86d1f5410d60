#!/usr/bin/env python3
"""scapy as the remote ESP or AH gateway, for tests/netns/esp_scapy.sh.

scapy's `SecurityAssociation` is an ESP and AH implementation independent of espgw. This
program sits on the wire next to espgw's wan port and plays the peer gateway:

* tunnel mode (responder): it sniffs the ESP espgw sends, checks the outer headers (addresses,
  protocol 50 or UDP 4500, SPI, sequence numbers 1, 2, 3..., the IV), decrypts it, checks the
  inner packet is an ICMP/ICMPv6 echo request from h1 with the TTL/hop limit decremented once,
  builds the echo reply, encrypts it with the reverse SA and sends it back. h1's ping getting
  its replies proves both directions.
* transport mode (initiator): it sends ICMP (IPv4) or ICMPv6 (IPv6) echo requests to the
  gateway's own address inside transport-mode ESP and expects ESP-protected echo replies
  (checked the same way).

With `--proto ah` (RFC 4302, HMAC-SHA-256-128) the same exchanges run over AH, with AH's own
header checks (protocol 51, length 28 bytes over IPv4 / 32 over IPv6 with zero padding,
reserved 0), plus two more: the protected payload must be on the wire in clear, byte for byte
(AH does not encrypt), and before its first genuine AH packet scapy sends a copy with the same
sequence number and one payload byte flipped, which espgw must drop (`ah_icv_mismatch`) without
moving its replay window, so that the genuine packet behind it still gets through.

Every check that fails is printed as `ERROR ...`; the last line is `RESULT {json}` and the exit
status is 0 only when every expected packet arrived and no check failed.
"""
import argparse
import json
import signal
import sys
import threading
import time

from scapy.all import (ICMP, IP, UDP, AsyncSniffer, Ether, ICMPv6EchoReply,
                       ICMPv6EchoRequest, IPv6, Raw, conf, get_if_hwaddr, raw, sendp)
from scapy.layers.ipsec import AH, ESP, IPSecIntegrityError, SecurityAssociation

conf.verb = 0

# espgw algorithm name -> (scapy crypt_algo, scapy auth_algo, IV length)
ALGS = {
    "aes128gcm16": ("AES-GCM", None, 8),
    "aes256gcm16": ("AES-GCM", None, 8),
    "aes128-sha1": ("AES-CBC", "HMAC-SHA1-96", 16),
    "aes256-sha1": ("AES-CBC", "HMAC-SHA1-96", 16),
    "aes128-sha256": ("AES-CBC", "SHA2-256-128", 16),
    "aes256-sha256": ("AES-CBC", "SHA2-256-128", 16),
    "null-sha256": ("NULL", "SHA2-256-128", 0),
    "sha256": (None, "SHA2-256-128", 0),      # AH only
}
# AH header length with HMAC-SHA-256-128 (RFC 4302 §2.6): 12 + 16 bytes, padded to 8 over IPv6.
AH_LEN = {4: 28, 6: 32}

H1 = {4: "192.0.2.2", 6: "2001:db8:1::2"}
REMOTE_HOST = {4: "198.51.100.2", 6: "2001:db8:2::2"}


def ipcls(addr):
    return IPv6 if ":" in addr else IP


def make_sa(a, spi, enc_key, auth_key, src, dst):
    crypt, auth, _ = ALGS[a.alg]
    if a.proto == "ah":
        kw = dict(spi=spi, auth_algo=auth, auth_key=bytes.fromhex(auth_key))
        if a.mode == "tunnel":
            kw["tunnel_header"] = ipcls(src)(src=src, dst=dst)
        if a.esn:
            kw.update(esn_en=True, esn=0)
        return SecurityAssociation(AH, **kw)
    kw = dict(spi=spi, crypt_algo=crypt, crypt_key=bytes.fromhex(enc_key) if enc_key else None)
    if auth:
        kw.update(auth_algo=auth, auth_key=bytes.fromhex(auth_key))
    if a.mode == "tunnel":
        kw["tunnel_header"] = ipcls(src)(src=src, dst=dst)
    if a.natt:
        kw["nat_t_header"] = UDP(sport=4500, dport=4500)
    if a.esn:
        kw.update(esn_en=True, esn=0)
    return SecurityAssociation(ESP, **kw)


class Peer:
    def __init__(self, a):
        self.a = a
        self.errors = []
        self.ttl_errors = []     # outer TTL / hop limit not 64: reported apart from the rest
        self.ctx = ""
        self.received = 0        # ESP packets from espgw that passed every check
        self.answered = 0        # replies sent (tunnel) / echo replies seen (transport)
        self.seqs = []
        self.ivs = []
        self.clear = 0           # AH: packets whose payload was checked to be on the wire in clear
        self.tampered = 0        # AH: packets sent with a flipped payload byte (espgw must drop)
        self.L = AH if a.proto == "ah" else ESP
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.my_mac = get_if_hwaddr(a.iface)
        # rx: espgw's outbound SA; tx: espgw's inbound SA.
        self.rx = make_sa(a, a.spi_rx, a.enc_rx, a.auth_rx, a.gw, a.me)
        self.tx = make_sa(a, a.spi_tx, a.enc_tx, a.auth_tx, a.me, a.gw)
        self.tx_seq = 0
        self.pending = {}        # transport: echo seq -> sent

    def error(self, msg):
        msg = self.ctx + msg
        print("ERROR " + msg, flush=True)
        self.errors.append(msg)

    def ttl_error(self, msg):
        msg = self.ctx + msg
        print("ERROR " + msg, flush=True)
        self.ttl_errors.append(msg)

    def outer_ok(self, p):
        """Checks the outer headers of one ESP / AH packet from espgw; returns the IP layer."""
        a = self.a
        ip = p[IPv6] if ipcls(a.gw) is IPv6 else p[IP]
        if p[Ether].src.lower() != a.gw_mac.lower():
            self.error("frame from %s, expected the gateway's MAC %s" % (p[Ether].src, a.gw_mac))
        if ip.dst != a.me:
            self.error("outer destination %s, expected %s" % (ip.dst, a.me))
        if a.natt:
            if UDP not in p or p[UDP].sport != 4500 or p[UDP].dport != 4500:
                self.error("expected ESP in UDP 4500 -> 4500: %s" % p.summary())
            else:
                u = p[UDP]
                if IPv6 in p:
                    # RFC 8200 8.1: a real checksum over IPv6.
                    c = u.chksum
                    q = ipcls(a.gw)(raw(ip))
                    del q[UDP].chksum
                    good = ipcls(a.gw)(raw(q))[UDP].chksum
                    if c == 0 or c != good:
                        self.error("UDP checksum over IPv6 is %#06x, expected %#06x" % (c, good))
                elif u.chksum != 0:
                    print("note: UDP checksum over IPv4 is %#06x (RFC 3948 allows 0)" % u.chksum)
        else:
            proto = ip.nh if isinstance(ip, IPv6) else ip.proto
            want = 51 if a.proto == "ah" else 50
            if proto != want:
                self.error("outer next protocol %d, expected %d (%s): %s" % (proto, want, a.proto.upper(), p.summary()))
        # espgw writes its outer header with TTL / hop limit 64 (esp.rs OUTER_TTL; AH reuses
        # esp::write_outer, and in transport mode the gateway's own echo reply); it is the
        # source of that header, so no router hop may have been subtracted from it.
        if isinstance(ip, IP) and ip.ttl != 64:
            self.ttl_error("outer TTL %d, expected 64" % ip.ttl)
        if isinstance(ip, IPv6) and ip.hlim != 64:
            self.ttl_error("outer hop limit %d, expected 64" % ip.hlim)
        e = p[self.L]
        if e.spi != a.spi_rx:
            self.error("SPI %#x, expected %#x" % (e.spi, a.spi_rx))
        expected = len(self.seqs) + 1
        self.seqs.append(e.seq)
        if e.seq != expected:
            self.error("sequence number %d, expected %d (1, 2, 3, ... from a fresh SA)" % (e.seq, expected))
        if a.proto == "ah":
            self.ah_header_ok(ip, e)
            return ip
        ivlen = ALGS[a.alg][2]
        iv = bytes(e.data[:ivlen])
        self.ivs.append(iv.hex())
        if a.alg.endswith("gcm16") and iv != e.seq.to_bytes(8, "big"):
            self.error("GCM IV %s is not the 64-bit sequence number %d" % (iv.hex(), e.seq))
        if ivlen == 16 and self.ivs.count(iv.hex()) > 1:
            self.error("CBC IV %s repeated" % iv.hex())
        return ip

    def ah_header_ok(self, ip, ah):
        """RFC 4302 §2: the AH header espgw wrote (HMAC-SHA-256-128)."""
        v = 6 if isinstance(ip, IPv6) else 4
        b = raw(ah)
        length = (b[1] + 2) * 4
        if length != AH_LEN[v]:
            self.error("AH length %d bytes (payload length field %d), expected %d over IPv%d"
                       % (length, b[1], AH_LEN[v], v))
        if b[2:4] != b"\0\0":
            self.error("AH reserved field %s, expected 0" % b[2:4].hex())
        if len(b) >= length and any(b[28:length]):
            self.error("AH padding after the ICV is %s, expected zeros" % b[28:length].hex())
        # Next header: IPv4 (4) / IPv6 (41) in tunnel mode, ICMP (1) / ICMPv6 (58) in transport.
        want_nh = {4: 4, 6: 41}[self.a.inner] if self.a.mode == "tunnel" else {4: 1, 6: 58}[v]
        if b[0] != want_nh:
            self.error("AH next header %d, expected %d" % (b[0], want_nh))

    def clear_ok(self, p, inner):
        """AH does not encrypt: what follows the AH header on the wire is the protected payload
        itself (the inner packet in tunnel mode, the ICMP message in transport mode), and the
        echo data is readable in the frame."""
        ip = p[IPv6] if ipcls(self.a.gw) is IPv6 else p[IP]
        wire = raw(ip)
        hl = 40 if isinstance(ip, IPv6) else ip.ihl * 4
        after = wire[hl + (wire[hl + 1] + 2) * 4:]
        payload = raw(inner) if self.a.mode == "tunnel" else raw(inner.payload)
        icmp = inner.getlayer(ICMP) or inner.getlayer(ICMPv6EchoRequest) or inner.getlayer(ICMPv6EchoReply)
        data = bytes(icmp.payload) if isinstance(icmp, ICMP) else bytes(icmp.data) if icmp else b""
        if after != payload:
            self.error("bytes after the AH header (%d) are not the protected payload in clear (%d): %s"
                       % (len(after), len(payload), after[:32].hex()))
        elif not data or data not in raw(p):
            self.error("echo data (%d bytes) not found in clear in the frame" % len(data))
        else:
            self.clear += 1

    def decrypt(self, p):
        ip = p[IPv6] if ipcls(self.a.gw) is IPv6 else p[IP]
        try:
            inner = self.rx.decrypt(ipcls(self.a.gw)(raw(ip)))
            if self.a.proto == "ah":
                # scapy binds AH's payload to IPv6 (41) only, not to IPv4 (4) nor to ICMP:
                # dissect what it returns by the AH next header / as the whole IP packet.
                if self.a.mode == "tunnel":
                    inner = {4: IP, 41: IPv6}.get(p[AH].nh, Raw)(raw(inner))
                else:
                    inner = ipcls(self.a.gw)(raw(inner))
            return inner
        except IPSecIntegrityError as ex:
            self.error("ICV check failed on espgw's packet seq %d: %s" % (p[self.L].seq, ex))
        except Exception as ex:  # noqa: BLE001 - report anything scapy could not open
            self.error("cannot decrypt espgw's packet seq %d: %r" % (p[self.L].seq, ex))
        return None

    def send_esp(self, inner):
        """Protects `inner` with the reverse SA (ESP or AH) and sends it to the gateway. With AH,
        the first packet is preceded by a copy under the same sequence number whose last byte
        (the last byte of the echo data) is flipped: espgw must drop it as ah_icv_mismatch and
        still accept the genuine packet (the window moves only after the ICV, RFC 4302 §3.4.3)."""
        self.tx_seq += 1
        enc = self.tx.encrypt(inner, seq_num=self.tx_seq)
        if self.a.natt and isinstance(enc, IPv6):
            # scapy writes UDP checksum 0 over IPv6; a conforming peer computes it (RFC 8200).
            del enc[UDP].chksum
            enc = IPv6(raw(enc))
        if self.a.proto == "ah" and self.tx_seq == 1:
            bad = bytearray(raw(enc))
            bad[-1] ^= 0xff
            print("tampered: AH seq %d with its last payload byte flipped (%#04x -> %#04x), sent before the genuine packet"
                  % (self.tx_seq, bad[-1] ^ 0xff, bad[-1]), flush=True)
            sendp(Ether(src=self.my_mac, dst=self.a.gw_mac) / enc.__class__(bytes(bad)), iface=self.a.iface)
            self.tampered += 1
        sendp(Ether(src=self.my_mac, dst=self.a.gw_mac) / enc, iface=self.a.iface)

    def handle(self, p):
        a = self.a
        if Ether not in p or self.L not in p:
            return
        ip = p[IPv6] if IPv6 in p else p[IP] if IP in p else None
        if ip is None or ip.src != a.gw:
            return  # our own transmissions, or not from the gateway
        with self.lock:
            if self.done.is_set():
                return
            self.ctx = "packet %d (%s seq %d): " % (len(self.seqs) + 1, a.proto.upper(), p[self.L].seq)
            nerr = len(self.errors)
            self.outer_ok(p)
            inner = self.decrypt(p)
            if inner is None:
                return
            if a.proto == "ah":
                self.clear_ok(p, inner)
            if a.mode == "tunnel":
                self.tunnel_reply(inner, p[self.L].seq)
            else:
                self.transport_reply(inner, p[self.L].seq)
            if len(self.errors) == nerr:
                self.received += 1
            if self.answered >= a.count:
                self.done.set()

    def tunnel_reply(self, inner, seq):
        a = self.a
        v = 6 if isinstance(inner, IPv6) else 4
        if v != a.inner:
            self.error("inner packet is IPv%d, expected IPv%d: %s" % (v, a.inner, inner.summary()))
            return
        if inner.src != H1[v] or inner.dst != REMOTE_HOST[v]:
            self.error("inner %s -> %s, expected %s -> %s" % (inner.src, inner.dst, H1[v], REMOTE_HOST[v]))
            return
        if v == 4:
            if ICMP not in inner or inner[ICMP].type != 8:
                self.error("inner is not an ICMP echo request: %s" % inner.summary())
                return
            if inner.ttl != 63:
                self.error("inner TTL %d, expected 63 (decremented once by the gateway)" % inner.ttl)
            q = inner[ICMP]
            reply = IP(src=inner.dst, dst=inner.src, ttl=64) / ICMP(type=0, id=q.id, seq=q.seq) / Raw(bytes(q.payload))
        else:
            if ICMPv6EchoRequest not in inner:
                self.error("inner is not an ICMPv6 echo request: %s" % inner.summary())
                return
            if inner.hlim != 63:
                self.error("inner hop limit %d, expected 63 (decremented once by the gateway)" % inner.hlim)
            q = inner[ICMPv6EchoRequest]
            reply = IPv6(src=inner.dst, dst=inner.src, hlim=64) / ICMPv6EchoReply(id=q.id, seq=q.seq, data=q.data)
        print("seq %d: %s -> %s echo request id %#x seq %d, answered" % (seq, inner.src, inner.dst, q.id, q.seq), flush=True)
        self.send_esp(reply.__class__(raw(reply)))
        self.answered += 1

    def transport_reply(self, inner, seq):
        a = self.a
        cls = ipcls(a.gw)
        icmp = ICMP if cls is IP else ICMPv6EchoReply
        if not isinstance(inner, cls) or inner.src != a.gw or inner.dst != a.me or icmp not in inner:
            self.error("transport payload is not %s %s -> %s: %s" % ("ICMP" if cls is IP else "an ICMPv6 echo reply",
                                                                    a.gw, a.me, inner.summary()))
            return
        r = inner[icmp]
        if (cls is IP and r.type != 0) or r.id != 0x5c4b or r.seq not in self.pending:
            self.error("expected an echo reply id 0x5c4b to one of our requests: %s" % inner.summary())
            return
        if (bytes(r.payload) if cls is IP else bytes(r.data)) != self.pending.pop(r.seq):
            self.error("echo reply %d: payload differs from the request's" % r.seq)
            return
        print("seq %d: %s-protected echo reply %d from %s" % (seq, a.proto.upper(), r.seq, inner.src), flush=True)
        self.answered += 1

    def ping_gateway(self):
        """Transport mode: ESP/AH-protected echo requests to the gateway's own address."""
        a = self.a
        for i in range(1, a.count + 1):
            payload = b"espgw-transport-%03d" % i
            with self.lock:
                self.pending[i] = payload
            if ipcls(a.gw) is IP:
                req = IP(src=a.me, dst=a.gw, ttl=64) / ICMP(type=8, id=0x5c4b, seq=i) / Raw(payload)
            else:
                req = IPv6(src=a.me, dst=a.gw, hlim=64) / ICMPv6EchoRequest(id=0x5c4b, seq=i, data=payload)
            self.send_esp(req.__class__(raw(req)))
            time.sleep(0.2)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iface", required=True)
    ap.add_argument("--gw-mac", required=True, help="espgw's wan port MAC")
    ap.add_argument("--gw", required=True, help="espgw's outer (tunnel endpoint) address")
    ap.add_argument("--me", required=True, help="this peer's outer address")
    ap.add_argument("--proto", choices=("esp", "ah"), default="esp")
    ap.add_argument("--mode", choices=("tunnel", "transport"), default="tunnel")
    ap.add_argument("--inner", type=int, choices=(4, 6), default=4, help="tunnel: inner IP version")
    ap.add_argument("--alg", choices=sorted(ALGS), required=True)
    ap.add_argument("--spi-rx", type=lambda s: int(s, 0), required=True, help="espgw's outbound SPI")
    ap.add_argument("--spi-tx", type=lambda s: int(s, 0), required=True, help="espgw's inbound SPI")
    ap.add_argument("--enc-rx", default="")
    ap.add_argument("--auth-rx", default="")
    ap.add_argument("--enc-tx", default="")
    ap.add_argument("--auth-tx", default="")
    ap.add_argument("--natt", action="store_true")
    ap.add_argument("--esn", action="store_true")
    ap.add_argument("--count", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=15)
    ap.add_argument("--ready-file", help="created once the sniffer runs")
    a = ap.parse_args()
    if (a.proto == "ah") != (a.alg == "sha256"):
        ap.error("--alg sha256 is AH's algorithm and AH takes only it")
    if a.proto == "ah" and a.natt:
        ap.error("NAT-T is defined for ESP only")

    peer = Peer(a)
    # SIGTERM from the test script (its ping is over): stop waiting and report.
    signal.signal(signal.SIGTERM, lambda *_: peer.done.set())
    started = threading.Event()
    sn = AsyncSniffer(iface=a.iface, prn=peer.handle, store=False, started_callback=started.set)
    sn.start()
    if not started.wait(5):
        peer.error("sniffer did not start")
    if a.ready_file:
        open(a.ready_file, "w").close()
    if a.mode == "transport":
        threading.Thread(target=peer.ping_gateway, daemon=True).start()
    peer.done.wait(a.timeout)
    try:
        sn.stop()
    except Exception:  # noqa: BLE001 - the sniffer may have ended already
        pass
    peer.ctx = ""
    if peer.answered < a.count:
        peer.error("only %d of %d exchanges completed in %.0f s" % (peer.answered, a.count, a.timeout))
    result = {"ok": not peer.errors, "received": peer.received, "answered": peer.answered,
              "seqs": peer.seqs, "ivs": peer.ivs, "clear": peer.clear, "tampered": peer.tampered,
              "errors": peer.errors, "ttl_errors": peer.ttl_errors}
    print("RESULT " + json.dumps(result), flush=True)
    # 0: all good; 2: only the outer TTL / hop limit check failed; 1: anything else.
    sys.exit(1 if peer.errors else 2 if peer.ttl_errors else 0)


if __name__ == "__main__":
    main()
