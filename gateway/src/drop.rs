//! Why a packet was dropped. Every drop in the data plane and the control path is counted
//! under exactly one of these reasons; the enum value is the counter index.

macro_rules! drop_reasons {
    ($($variant:ident => $name:literal, $help:literal;)*) => {
        /// A named drop reason; `reason as usize` indexes the drop counters.
        #[repr(u8)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum DropReason { $($variant,)* }

        impl DropReason {
            /// Every reason, in counter order.
            pub const ALL: &'static [DropReason] = &[$(DropReason::$variant,)*];
            pub const COUNT: usize = Self::ALL.len();

            /// Stable snake_case name used in status output and metrics labels.
            pub fn name(self) -> &'static str {
                match self { $(DropReason::$variant => $name,)* }
            }

            /// One-line explanation for operators.
            pub fn help(self) -> &'static str {
                match self { $(DropReason::$variant => $help,)* }
            }
        }
    };
}

drop_reasons! {
    Runt => "runt", "frame shorter than an Ethernet header";
    MultiSegment => "multi_segment", "chained mbuf; jumbo frames spanning segments are not supported";
    NotForUs => "not_for_us", "destination MAC is neither the port's nor broadcast/multicast";
    UnsupportedEthertype => "unsupported_ethertype", "EtherType other than IPv4, IPv6 or ARP";
    Ipv4Malformed => "ipv4_malformed", "IPv4 header fails length/version checks";
    Ipv4BadChecksum => "ipv4_bad_checksum", "IPv4 header checksum wrong";
    Ipv6Malformed => "ipv6_malformed", "IPv6 header fails length/version checks";
    MartianSource => "martian_source", "source address is multicast, loopback or unspecified";
    MulticastNotForwarded => "multicast_not_forwarded", "IPv4 broadcast/multicast is not routed";
    TtlExceeded => "ttl_exceeded", "TTL/hop limit reached zero (ICMP time exceeded sent)";
    NoRoute => "no_route", "no route to the destination (ICMP unreachable sent)";
    MtuExceeded => "mtu_exceeded", "packet larger than the egress MTU (ICMP too-big sent when DF/IPv6)";
    NeighbourUnresolved => "neighbour_unresolved", "ARP/ND for the next hop got no answer";
    NeighbourQueueFull => "neighbour_queue_full", "too many packets waiting for one next hop";
    PuntRingFull => "punt_ring_full", "control path busy: punt ring full";
    InjectRingFull => "inject_ring_full", "worker busy: control-path transmit ring full";
    TxFull => "tx_full", "port TX queue did not accept the packet";
    ArpMalformed => "arp_malformed", "ARP packet malformed or not Ethernet/IPv4";
    ArpNotForUs => "arp_not_for_us", "ARP request for an address that is not the gateway's";
    NdMalformed => "nd_malformed", "ICMPv6 neighbour discovery message malformed";
    IcmpMalformed => "icmp_malformed", "ICMP message to the gateway malformed or bad checksum";
    IcmpRateLimited => "icmp_rate_limited", "ICMP error suppressed by the rate limit";
    LocalUnhandled => "local_unhandled", "packet to the gateway for a protocol it does not serve";
    MbufExhausted => "mbuf_exhausted", "no mbuf available to build a reply";
    EspMalformed => "esp_malformed", "ESP packet shorter than header, IV, trailer and ICV";
    EspFragment => "esp_fragment", "fragmented outer ESP packet (outer reassembly is not done)";
    EspUnknownSpi => "esp_unknown_spi", "no inbound SA with this SPI";
    EspReplayed => "esp_replayed", "sequence number already seen (anti-replay)";
    EspTooOld => "esp_too_old", "sequence number left of the anti-replay window";
    EspIcvMismatch => "esp_icv_mismatch", "integrity check failed (wrong key or tampered)";
    EspBadPadding => "esp_bad_padding", "ESP padding length or bytes wrong (RFC 4303 §2.4)";
    EspBadNextHeader => "esp_bad_next_header", "next header not allowed for the SA's mode";
    EspDummy => "esp_dummy", "dummy packet (next header 59, RFC 4303 §2.6): discarded";
    EspInnerMalformed => "esp_inner_malformed", "decrypted inner packet malformed";
    AhMalformed => "ah_malformed", "AH header truncated, bad payload length, SPI 0 or misplaced";
    AhUnknownSpi => "ah_unknown_spi", "no inbound AH SA with this SPI";
    AhIcvMismatch => "ah_icv_mismatch", "AH integrity check failed (wrong key or tampered)";
    AhBadNextHeader => "ah_bad_next_header", "AH next header not allowed for the SA's mode";
    AhInnerMalformed => "ah_inner_malformed", "packet to protect, or inner packet after AH, malformed";
    AhIpv4Options => "ah_ipv4_options", "IPv4 header with options: not supported with AH";
    AhFragment => "ah_fragment", "IPv4 fragment where AH needs the whole packet (RFC 4302 §3.4.1)";
    SaProtocolMismatch => "sa_protocol_mismatch", "packet handed to an SA of the other protocol (ESP vs AH)";
    EcnConflict => "ecn_conflict", "outer CE over a Not-ECT inner packet (RFC 6040 §4.2)";
    PolicyMismatch => "policy_mismatch", "decrypted packet does not match the SA's traffic selectors";
    SaExpired => "sa_expired", "SA past its hard lifetime";
    SeqExhausted => "seq_exhausted", "outbound sequence number space used up: rekey needed";
    EncapNoRoom => "encap_no_room", "not enough headroom/tailroom in the buffer to encapsulate";
    NatKeepalive => "nat_keepalive", "NAT-T keepalive (RFC 3948 §2.3) consumed";
    CleartextProtected => "cleartext_protected", "clear-text packet where an inbound policy requires IPsec";
    PolicyDiscard => "policy_discard", "a discard policy in the SPD matched";
    VtiDown => "vti_down", "routed into a VTI that has no Child SA yet (its IKE peer is not up)";
    IkeAcquire => "ike_acquire", "no SA yet for a trap policy: the packet made IKE negotiate one (start_action trap)";
    TunnelNoRoute => "tunnel_no_route", "no route to the SA's peer (outer destination)";
    IcmpErrorUnprotected => "icmp_error_unprotected", "ICMP error about tunnel traffic not sent: no SA would protect it";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_indices_dense() {
        let mut names: Vec<_> = DropReason::ALL.iter().map(|r| r.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), DropReason::COUNT);
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
            assert!(r.name().chars().all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit()));
        }
    }
}
