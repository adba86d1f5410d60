#!/usr/bin/env python3
"""scapy as the remote ESP gateway, for tests/netns/esp_scapy.sh.

scapy's `SecurityAssociation` is an ESP implementation independent of espgw. This program
sits on the wire next to espgw's wan port and plays the peer gateway:

* tunnel mode (responder): it sniffs the ESP espgw sends, checks the outer headers (addresses,
  protocol 50 or UDP 4500, SPI, sequence numbers 1, 2, 3..., the IV), decrypts it, checks the
  inner packet is an ICMP/ICMPv6 echo request from h1 with the TTL/hop limit decremented once,
  builds the echo reply, encrypts it with the reverse SA and sends it back. h1's ping getting
  its replies proves both directions.
* transport mode (initiator): it sends ICMP echo requests to the gateway's own address inside
  transport-mode ESP and expects ESP-protected echo replies (checked the same way).

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
from scapy.layers.ipsec import ESP, IPSecIntegrityError, SecurityAssociation

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
}

H1 = {4: "192.0.2.2", 6: "2001:db8:1::2"}
REMOTE_HOST = {4: "198.51.100.2", 6: "2001:db8:2::2"}


def ipcls(addr):
    return IPv6 if ":" in addr else IP


def make_sa(a, spi, enc_key, auth_key, src, dst):
    crypt, auth, _ = ALGS[a.alg]
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
        """Checks the outer headers of one ESP packet from espgw; returns the IP layer."""
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
            if proto != 50:
                self.error("outer next protocol %d, expected 50 (ESP): %s" % (proto, p.summary()))
        # espgw writes its outer header with TTL / hop limit 64 (esp.rs OUTER_TTL); it is the
        # source of that header, so no router hop may have been subtracted from it.
        if isinstance(ip, IP) and ip.ttl != 64:
            self.ttl_error("outer TTL %d, expected 64" % ip.ttl)
        if isinstance(ip, IPv6) and ip.hlim != 64:
            self.ttl_error("outer hop limit %d, expected 64" % ip.hlim)
        e = p[ESP]
        if e.spi != a.spi_rx:
            self.error("SPI %#x, expected %#x" % (e.spi, a.spi_rx))
        expected = len(self.seqs) + 1
        self.seqs.append(e.seq)
        if e.seq != expected:
            self.error("sequence number %d, expected %d (1, 2, 3, ... from a fresh SA)" % (e.seq, expected))
        ivlen = ALGS[a.alg][2]
        iv = bytes(e.data[:ivlen])
        self.ivs.append(iv.hex())
        if a.alg.endswith("gcm16") and iv != e.seq.to_bytes(8, "big"):
            self.error("GCM IV %s is not the 64-bit sequence number %d" % (iv.hex(), e.seq))
        if ivlen == 16 and self.ivs.count(iv.hex()) > 1:
            self.error("CBC IV %s repeated" % iv.hex())
        return ip

    def decrypt(self, p):
        ip = p[IPv6] if ipcls(self.a.gw) is IPv6 else p[IP]
        try:
            return self.rx.decrypt(ipcls(self.a.gw)(raw(ip)))
        except IPSecIntegrityError as ex:
            self.error("ICV check failed on espgw's packet seq %d: %s" % (p[ESP].seq, ex))
        except Exception as ex:  # noqa: BLE001 - report anything scapy could not open
            self.error("cannot decrypt espgw's packet seq %d: %r" % (p[ESP].seq, ex))
        return None

    def send_esp(self, inner):
        self.tx_seq += 1
        enc = self.tx.encrypt(inner, seq_num=self.tx_seq)
        if self.a.natt and isinstance(enc, IPv6):
            # scapy writes UDP checksum 0 over IPv6; a conforming peer computes it (RFC 8200).
            del enc[UDP].chksum
            enc = IPv6(raw(enc))
        sendp(Ether(src=self.my_mac, dst=self.a.gw_mac) / enc, iface=self.a.iface)

    def handle(self, p):
        a = self.a
        if Ether not in p or ESP not in p:
            return
        ip = p[IPv6] if IPv6 in p else p[IP] if IP in p else None
        if ip is None or ip.src != a.gw:
            return  # our own transmissions, or not from the gateway
        with self.lock:
            if self.done.is_set():
                return
            self.ctx = "packet %d (ESP seq %d): " % (len(self.seqs) + 1, p[ESP].seq)
            nerr = len(self.errors)
            self.outer_ok(p)
            inner = self.decrypt(p)
            if inner is None:
                return
            if a.mode == "tunnel":
                self.tunnel_reply(inner, p[ESP].seq)
            else:
                self.transport_reply(inner, p[ESP].seq)
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
        if not isinstance(inner, IP) or inner.src != a.gw or inner.dst != a.me or ICMP not in inner:
            self.error("transport payload is not ICMP %s -> %s: %s" % (a.gw, a.me, inner.summary()))
            return
        r = inner[ICMP]
        if r.type != 0 or r.id != 0x5c4b or r.seq not in self.pending:
            self.error("expected an echo reply id 0x5c4b to one of our requests: %s" % inner.summary())
            return
        if bytes(r.payload) != self.pending.pop(r.seq):
            self.error("echo reply %d: payload differs from the request's" % r.seq)
            return
        print("seq %d: ESP-protected echo reply %d from %s" % (seq, r.seq, inner.src), flush=True)
        self.answered += 1

    def ping_gateway(self):
        """Transport mode: ESP-protected echo requests to the gateway's own address."""
        a = self.a
        for i in range(1, a.count + 1):
            payload = b"espgw-transport-%03d" % i
            with self.lock:
                self.pending[i] = payload
            req = IP(src=a.me, dst=a.gw, ttl=64) / ICMP(type=8, id=0x5c4b, seq=i) / Raw(payload)
            self.send_esp(IP(raw(req)))
            time.sleep(0.2)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iface", required=True)
    ap.add_argument("--gw-mac", required=True, help="espgw's wan port MAC")
    ap.add_argument("--gw", required=True, help="espgw's outer (tunnel endpoint) address")
    ap.add_argument("--me", required=True, help="this peer's outer address")
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
              "seqs": peer.seqs, "ivs": peer.ivs, "errors": peer.errors, "ttl_errors": peer.ttl_errors}
    print("RESULT " + json.dumps(result), flush=True)
    # 0: all good; 2: only the outer TTL / hop limit check failed; 1: anything else.
    sys.exit(1 if peer.errors else 2 if peer.ttl_errors else 0)


if __name__ == "__main__":
    main()
