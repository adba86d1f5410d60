//! Fuzz target: the IKEv2 message parser on arbitrary datagrams. Nothing may panic, and what
//! parses must survive encode → parse unchanged. (Not byte-exact: reserved bits are ignored
//! on receipt and sent as zero, RFC 7296 §3.2.)
#![no_main]

use ike::codec::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::parse(data) {
        if let Ok(bytes) = m.encode() {
            let again = Message::parse(&bytes).expect("an encoded message parses");
            assert_eq!(again, m, "encode/parse round trip");
        }
    }
});
