//! ISAKMP / IKEv1 / IPsec DOI numbers as open newtypes (RFC 2408 §3, RFC 2409 Appendix A,
//! RFC 2407 §4, RFC 3947, RFC 3706). Unknown values round-trip.

use crate::codec::registry::registry;
use core::fmt;

registry! {
    /// Next Payload / payload type (RFC 2408 §3.1, RFC 3947 §3).
    PayloadType(u8) {
        NONE = 0,
        SA = 1,
        PROPOSAL = 2,
        TRANSFORM = 3,
        KE = 4,
        ID = 5,
        CERT = 6,
        CR = 7,
        HASH = 8,
        SIG = 9,
        NONCE = 10,
        N = 11,
        D = 12,
        VID = 13,
        NAT_D = 20,
        NAT_OA = 21,
    }
}

registry! {
    /// Exchange Type (RFC 2408 §3.1, RFC 2409 §5).
    ExchangeType(u8) {
        NONE = 0,
        BASE = 1,
        /// Main Mode.
        IDENTITY_PROTECTION = 2,
        AUTHENTICATION_ONLY = 3,
        AGGRESSIVE = 4,
        INFORMATIONAL = 5,
        QUICK_MODE = 32,
        NEW_GROUP_MODE = 33,
    }
}

registry! {
    /// Protocol-ID of proposals, notifications and deletes (RFC 2407 §4.4.1).
    ProtocolId(u8) {
        ISAKMP = 1,
        IPSEC_AH = 2,
        IPSEC_ESP = 3,
        IPCOMP = 4,
    }
}

registry! {
    /// Notify Message Type (RFC 2408 §3.14.1, RFC 2407 §4.6.3, RFC 3706 §5).
    NotifyType(u16) {
        INVALID_PAYLOAD_TYPE = 1,
        DOI_NOT_SUPPORTED = 2,
        SITUATION_NOT_SUPPORTED = 3,
        INVALID_COOKIE = 4,
        INVALID_MAJOR_VERSION = 5,
        INVALID_MINOR_VERSION = 6,
        INVALID_EXCHANGE_TYPE = 7,
        INVALID_FLAGS = 8,
        INVALID_MESSAGE_ID = 9,
        INVALID_PROTOCOL_ID = 10,
        INVALID_SPI = 11,
        INVALID_TRANSFORM_ID = 12,
        ATTRIBUTES_NOT_SUPPORTED = 13,
        NO_PROPOSAL_CHOSEN = 14,
        BAD_PROPOSAL_SYNTAX = 15,
        PAYLOAD_MALFORMED = 16,
        INVALID_KEY_INFORMATION = 17,
        INVALID_ID_INFORMATION = 18,
        INVALID_CERT_ENCODING = 19,
        INVALID_CERTIFICATE = 20,
        CERT_TYPE_UNSUPPORTED = 21,
        INVALID_CERT_AUTHORITY = 22,
        INVALID_HASH_INFORMATION = 23,
        AUTHENTICATION_FAILED = 24,
        INVALID_SIGNATURE = 25,
        ADDRESS_NOTIFICATION = 26,
        NOTIFY_SA_LIFETIME = 27,
        CERTIFICATE_UNAVAILABLE = 28,
        UNSUPPORTED_EXCHANGE_TYPE = 29,
        UNEQUAL_PAYLOAD_LENGTHS = 30,
        CONNECTED = 16384,
        RESPONDER_LIFETIME = 24576,
        REPLAY_STATUS = 24577,
        INITIAL_CONTACT = 24578,
        R_U_THERE = 36136,
        R_U_THERE_ACK = 36137,
    }
}

impl NotifyType {
    /// Types below 8192 are errors (RFC 2408 §3.14.1).
    pub fn is_error(self) -> bool {
        self.0 < 8192
    }
}

registry! {
    /// Identification Type of the IPsec DOI (RFC 2407 §4.6.2.1).
    IdType(u8) {
        IPV4_ADDR = 1,
        FQDN = 2,
        USER_FQDN = 3,
        IPV4_ADDR_SUBNET = 4,
        IPV6_ADDR = 5,
        IPV6_ADDR_SUBNET = 6,
        IPV4_ADDR_RANGE = 7,
        IPV6_ADDR_RANGE = 8,
        DER_ASN1_DN = 9,
        DER_ASN1_GN = 10,
        KEY_ID = 11,
    }
}

registry! {
    /// Phase 1 (ISAKMP SA) attribute classes (RFC 2409 Appendix A).
    Ph1Attr(u16) {
        ENCRYPTION_ALGORITHM = 1,
        HASH_ALGORITHM = 2,
        AUTHENTICATION_METHOD = 3,
        GROUP_DESCRIPTION = 4,
        LIFE_TYPE = 11,
        LIFE_DURATION = 12,
        KEY_LENGTH = 14,
    }
}

registry! {
    /// Phase 1 encryption algorithms (RFC 2409 Appendix A, RFC 3602 for AES).
    Ph1Encr(u16) {
        DES_CBC = 1,
        TRIPLE_DES_CBC = 5,
        AES_CBC = 7,
    }
}

registry! {
    /// Phase 1 hash algorithms (RFC 2409 Appendix A, RFC 4868 for SHA-2).
    Ph1Hash(u16) {
        MD5 = 1,
        SHA = 2,
        SHA2_256 = 4,
        SHA2_384 = 5,
        SHA2_512 = 6,
    }
}

registry! {
    /// Phase 1 authentication methods (RFC 2409 Appendix A).
    AuthMethod(u16) {
        PRE_SHARED_KEY = 1,
        DSS_SIG = 2,
        RSA_SIG = 3,
    }
}

registry! {
    /// Life Type values, in both the phase 1 and the IPsec DOI attribute sets.
    LifeType(u16) {
        SECONDS = 1,
        KILOBYTES = 2,
    }
}

registry! {
    /// IPsec DOI SA attribute classes (RFC 2407 §4.5, RFC 4304 for ESN).
    EspAttr(u16) {
        SA_LIFE_TYPE = 1,
        SA_LIFE_DURATION = 2,
        GROUP_DESCRIPTION = 3,
        ENCAPSULATION_MODE = 4,
        AUTHENTICATION_ALGORITHM = 5,
        KEY_LENGTH = 6,
        EXTENDED_SEQUENCE_NUMBER = 11,
    }
}

registry! {
    /// Encapsulation Mode values (RFC 2407 §4.5, RFC 3947 §5 for the UDP ones).
    EncapMode(u16) {
        TUNNEL = 1,
        TRANSPORT = 2,
        UDP_TUNNEL = 3,
        UDP_TRANSPORT = 4,
        /// The pre-RFC draft values some peers still send.
        UDP_TUNNEL_DRAFT = 61443,
        UDP_TRANSPORT_DRAFT = 61444,
    }
}

registry! {
    /// IPsec DOI Authentication Algorithm attribute (RFC 2407 §4.5, RFC 4868 §2.4).
    EspAuth(u16) {
        HMAC_MD5 = 1,
        HMAC_SHA = 2,
        HMAC_SHA2_256 = 5,
        HMAC_SHA2_384 = 6,
        HMAC_SHA2_512 = 7,
    }
}

registry! {
    /// ESP transform IDs of the IPsec DOI (RFC 2407 §4.4.4, RFC 4106 §8.1).
    EspTransformId(u8) {
        ESP_3DES = 3,
        ESP_NULL = 11,
        ESP_AES_CBC = 12,
        ESP_AES_GCM_8 = 18,
        ESP_AES_GCM_12 = 19,
        ESP_AES_GCM_16 = 20,
    }
}

registry! {
    /// AH transform IDs of the IPsec DOI (RFC 2407 §4.4.3, RFC 4868 §2.4).
    AhTransformId(u8) {
        AH_MD5 = 2,
        AH_SHA = 3,
        AH_SHA2_256 = 5,
        AH_SHA2_384 = 6,
        AH_SHA2_512 = 7,
    }
}

/// The IPsec Domain of Interpretation (RFC 2407 §4.2).
pub const DOI_IPSEC: u32 = 1;
/// Situation: identity only (RFC 2407 §4.2.1), the one situation we speak.
pub const SIT_IDENTITY_ONLY: u32 = 1;
/// The one phase 1 transform ID (RFC 2409 Appendix A).
pub const KEY_IKE: u8 = 1;
