//! IANA registries used by IKEv2, as open newtypes.
//!
//! Every protocol number is a `struct X(pub uN)` with associated constants for the values we
//! name. Values we do not know are still representable, so they survive a parse/encode round
//! trip and the caller decides what an unknown value means (skip it, or refuse it if the
//! critical bit says so). `Debug` prints the constant's name, or `X(n)` for unnamed values.

use core::fmt;

macro_rules! registry {
    (
        $(#[$meta:meta])*
        $name:ident($repr:ty) {
            $( $(#[$cmeta:meta])* $konst:ident = $val:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub $repr);

        impl $name {
            $( $(#[$cmeta])* pub const $konst: $name = $name($val); )*

            /// The registry name of this value, if it is one we know.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $val => Some(stringify!($konst)), )*
                    _ => None,
                }
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(n),
                    None => write!(f, "{}({})", stringify!($name), self.0),
                }
            }
        }

        impl From<$repr> for $name {
            fn from(v: $repr) -> $name {
                $name(v)
            }
        }

        impl From<$name> for $repr {
            fn from(v: $name) -> $repr {
                v.0
            }
        }
    };
}

/// Shared with the IKEv1 codec's registries.
pub(crate) use registry;

registry! {
    /// Exchange Type in the IKE header (RFC 7296 §3.1).
    ExchangeType(u8) {
        IKE_SA_INIT = 34,
        IKE_AUTH = 35,
        CREATE_CHILD_SA = 36,
        INFORMATIONAL = 37,
        /// RFC 5723.
        IKE_SESSION_RESUME = 38,
        /// RFC 9242.
        IKE_INTERMEDIATE = 43,
    }
}

registry! {
    /// Next Payload / payload type (RFC 7296 §3.2, RFC 7383 for SKF).
    PayloadType(u8) {
        NONE = 0,
        SA = 33,
        KE = 34,
        IDI = 35,
        IDR = 36,
        CERT = 37,
        CERTREQ = 38,
        AUTH = 39,
        NONCE = 40,
        NOTIFY = 41,
        DELETE = 42,
        VENDOR_ID = 43,
        TSI = 44,
        TSR = 45,
        SK = 46,
        CP = 47,
        EAP = 48,
        GSPM = 49,
        SKF = 53,
        PS = 54,
    }
}

registry! {
    /// Security Protocol Identifier (proposals, notify, delete).
    ProtocolId(u8) {
        NONE = 0,
        IKE = 1,
        AH = 2,
        ESP = 3,
    }
}

registry! {
    /// Transform Type (RFC 7296 §3.3.2).
    TransformType(u8) {
        ENCR = 1,
        PRF = 2,
        INTEG = 3,
        /// Diffie-Hellman group ("Key Exchange Method" since RFC 9370).
        DH = 4,
        ESN = 5,
    }
}

registry! {
    /// Transform IDs for Transform Type 1 (encryption).
    EncrId(u16) {
        DES_IV64 = 1,
        DES = 2,
        TRIPLE_DES = 3,
        NULL = 11,
        AES_CBC = 12,
        AES_CTR = 13,
        AES_CCM_8 = 14,
        AES_CCM_12 = 15,
        AES_CCM_16 = 16,
        AES_GCM_8 = 18,
        AES_GCM_12 = 19,
        AES_GCM_16 = 20,
        NULL_AUTH_AES_GMAC = 21,
        CAMELLIA_CBC = 23,
        CHACHA20_POLY1305 = 28,
    }
}

registry! {
    /// Transform IDs for Transform Type 2 (pseudorandom function).
    PrfId(u16) {
        HMAC_MD5 = 1,
        HMAC_SHA1 = 2,
        HMAC_TIGER = 3,
        AES128_XCBC = 4,
        HMAC_SHA2_256 = 5,
        HMAC_SHA2_384 = 6,
        HMAC_SHA2_512 = 7,
        AES128_CMAC = 8,
    }
}

registry! {
    /// Transform IDs for Transform Type 3 (integrity).
    IntegId(u16) {
        NONE = 0,
        HMAC_MD5_96 = 1,
        HMAC_SHA1_96 = 2,
        DES_MAC = 3,
        KPDK_MD5 = 4,
        AES_XCBC_96 = 5,
        HMAC_MD5_128 = 6,
        HMAC_SHA1_160 = 7,
        AES_CMAC_96 = 8,
        AES_128_GMAC = 9,
        AES_192_GMAC = 10,
        AES_256_GMAC = 11,
        HMAC_SHA2_256_128 = 12,
        HMAC_SHA2_384_192 = 13,
        HMAC_SHA2_512_256 = 14,
    }
}

registry! {
    /// Transform IDs for Transform Type 4 (Diffie-Hellman group).
    DhGroup(u16) {
        NONE = 0,
        MODP_768 = 1,
        MODP_1024 = 2,
        MODP_1536 = 5,
        MODP_2048 = 14,
        MODP_3072 = 15,
        MODP_4096 = 16,
        MODP_6144 = 17,
        MODP_8192 = 18,
        ECP_256 = 19,
        ECP_384 = 20,
        ECP_521 = 21,
        CURVE25519 = 31,
        CURVE448 = 32,
    }
}

registry! {
    /// Transform IDs for Transform Type 5 (extended sequence numbers).
    EsnId(u16) {
        NO_ESN = 0,
        ESN = 1,
    }
}

registry! {
    /// Transform attribute types (RFC 7296 §3.3.5).
    AttributeType(u16) {
        KEY_LENGTH = 14,
    }
}

registry! {
    /// ID Type of IDi / IDr (RFC 7296 §3.5).
    IdType(u8) {
        IPV4_ADDR = 1,
        FQDN = 2,
        RFC822_ADDR = 3,
        IPV6_ADDR = 5,
        DER_ASN1_DN = 9,
        DER_ASN1_GN = 10,
        KEY_ID = 11,
    }
}

registry! {
    /// Auth Method of the AUTH payload (RFC 7296 §3.8, RFC 7427).
    AuthMethod(u8) {
        RSA_SIG = 1,
        SHARED_KEY_MIC = 2,
        DSS_SIG = 3,
        ECDSA_SHA256_P256 = 9,
        ECDSA_SHA384_P384 = 10,
        ECDSA_SHA512_P521 = 11,
        GENERIC_SECURE_PASSWORD = 12,
        NULL = 13,
        DIGITAL_SIGNATURE = 14,
    }
}

registry! {
    /// Certificate Encoding of CERT / CERTREQ (RFC 7296 §3.6).
    CertEncoding(u8) {
        PKCS7_X509 = 1,
        PGP = 2,
        DNS_SIGNED_KEY = 3,
        X509_SIGNATURE = 4,
        KERBEROS_TOKEN = 6,
        CRL = 7,
        ARL = 8,
        SPKI = 9,
        X509_ATTRIBUTE = 10,
        RAW_RSA_KEY = 11,
        HASH_URL_X509 = 12,
        HASH_URL_X509_BUNDLE = 13,
        OCSP_CONTENT = 14,
        RAW_PUBLIC_KEY = 15,
    }
}

registry! {
    /// Notify Message Type (RFC 7296 §3.10.1 and later RFCs). Values below 16384 are errors.
    NotifyType(u16) {
        UNSUPPORTED_CRITICAL_PAYLOAD = 1,
        INVALID_IKE_SPI = 4,
        INVALID_MAJOR_VERSION = 5,
        INVALID_SYNTAX = 7,
        INVALID_MESSAGE_ID = 9,
        INVALID_SPI = 11,
        NO_PROPOSAL_CHOSEN = 14,
        INVALID_KE_PAYLOAD = 17,
        AUTHENTICATION_FAILED = 24,
        SINGLE_PAIR_REQUIRED = 34,
        NO_ADDITIONAL_SAS = 35,
        INTERNAL_ADDRESS_FAILURE = 36,
        FAILED_CP_REQUIRED = 37,
        TS_UNACCEPTABLE = 38,
        INVALID_SELECTORS = 39,
        TEMPORARY_FAILURE = 43,
        CHILD_SA_NOT_FOUND = 44,
        INITIAL_CONTACT = 16384,
        SET_WINDOW_SIZE = 16385,
        ADDITIONAL_TS_POSSIBLE = 16386,
        IPCOMP_SUPPORTED = 16387,
        NAT_DETECTION_SOURCE_IP = 16388,
        NAT_DETECTION_DESTINATION_IP = 16389,
        COOKIE = 16390,
        USE_TRANSPORT_MODE = 16391,
        HTTP_CERT_LOOKUP_SUPPORTED = 16392,
        REKEY_SA = 16393,
        ESP_TFC_PADDING_NOT_SUPPORTED = 16394,
        NON_FIRST_FRAGMENTS_ALSO = 16395,
        MOBIKE_SUPPORTED = 16396,
        ADDITIONAL_IP4_ADDRESS = 16397,
        ADDITIONAL_IP6_ADDRESS = 16398,
        NO_ADDITIONAL_ADDRESSES = 16399,
        UPDATE_SA_ADDRESSES = 16400,
        COOKIE2 = 16401,
        NO_NATS_ALLOWED = 16402,
        MULTIPLE_AUTH_SUPPORTED = 16404,
        ANOTHER_AUTH_FOLLOWS = 16405,
        REDIRECT_SUPPORTED = 16406,
        EAP_ONLY_AUTHENTICATION = 16417,
        IKEV2_MESSAGE_ID_SYNC_SUPPORTED = 16420,
        IKEV2_FRAGMENTATION_SUPPORTED = 16430,
        SIGNATURE_HASH_ALGORITHMS = 16431,
        USE_PPK = 16435,
        INTERMEDIATE_EXCHANGE_SUPPORTED = 16438,
    }
}

impl NotifyType {
    /// Error types (0–16383) versus status types (16384–65535), RFC 7296 §3.10.1.
    pub const fn is_error(self) -> bool {
        self.0 < 16384
    }
}

registry! {
    /// TS Type of a traffic selector (RFC 7296 §3.13.1).
    TsType(u8) {
        IPV4_ADDR_RANGE = 7,
        IPV6_ADDR_RANGE = 8,
    }
}

registry! {
    /// CFG Type of the CP payload (RFC 7296 §3.15).
    CfgType(u8) {
        REQUEST = 1,
        REPLY = 2,
        SET = 3,
        ACK = 4,
    }
}

registry! {
    /// Configuration attribute types (RFC 7296 §3.15.1).
    CfgAttrType(u16) {
        INTERNAL_IP4_ADDRESS = 1,
        INTERNAL_IP4_NETMASK = 2,
        INTERNAL_IP4_DNS = 3,
        INTERNAL_IP4_NBNS = 4,
        INTERNAL_IP4_DHCP = 6,
        APPLICATION_VERSION = 7,
        INTERNAL_IP6_ADDRESS = 8,
        INTERNAL_IP6_DNS = 10,
        INTERNAL_IP6_DHCP = 12,
        INTERNAL_IP4_SUBNET = 13,
        SUPPORTED_ATTRIBUTES = 14,
        INTERNAL_IP6_SUBNET = 15,
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn debug_names_known_and_unknown_values() {
        assert_eq!(format!("{:?}", ExchangeType::IKE_AUTH), "IKE_AUTH");
        assert_eq!(format!("{:?}", ExchangeType(99)), "ExchangeType(99)");
        assert_eq!(format!("{:?}", NotifyType(16430)), "IKEV2_FRAGMENTATION_SUPPORTED");
        assert_eq!(PayloadType::SKF.name(), Some("SKF"));
        assert_eq!(DhGroup(9999).name(), None);
        assert_eq!(u16::from(DhGroup::CURVE25519), 31);
    }

    #[test]
    fn notify_error_split() {
        assert!(NotifyType::INVALID_SYNTAX.is_error());
        assert!(NotifyType(16383).is_error());
        assert!(!NotifyType::COOKIE.is_error());
    }
}
