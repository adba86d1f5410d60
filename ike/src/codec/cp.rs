//! Configuration payload CP (RFC 7296 §3.15).
//!
//! ```text
//! CFG Type | RESERVED(3) | Configuration Attributes...
//! R|Attribute Type(15) | Length(2) | Value
//! ```

use super::payload::Body;
use super::{CfgAttrType, CfgType, Reader, Result, Writer};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Configuration {
    pub ty: CfgType,
    pub attributes: Vec<CfgAttribute>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CfgAttribute {
    pub ty: CfgAttrType,
    /// Empty in a CFG_REQUEST for "please assign one".
    pub value: Vec<u8>,
}

impl Body for Configuration {
    fn decode(body: &[u8]) -> Result<Self> {
        let mut r = Reader::new(body, "CP");
        let ty = CfgType(r.u8()?);
        r.take(3)?;
        let mut attributes = Vec::new();
        while !r.is_empty() {
            // The top bit is reserved: ignored on receipt.
            let t = CfgAttrType(r.u16()? & 0x7fff);
            let len = r.u16()? as usize;
            attributes.push(CfgAttribute { ty: t, value: r.take(len)?.to_vec() });
        }
        Ok(Configuration { ty, attributes })
    }

    fn encode(&self, w: &mut Writer) {
        w.u8(self.ty.0);
        w.zeros(3);
        for a in &self.attributes {
            w.u16(a.ty.0 & 0x7fff);
            w.count_u16(a.value.len());
            w.bytes(&a.value);
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::codec::payload::Payload;
    use crate::codec::test_util::{chain_round_trip, hex};
    use crate::codec::ErrorKind;

    #[test]
    fn round_trip() {
        chain_round_trip(&[
            Payload::Cp(Configuration {
                ty: CfgType::REQUEST,
                attributes: vec![
                    CfgAttribute { ty: CfgAttrType::INTERNAL_IP4_ADDRESS, value: vec![] },
                    CfgAttribute { ty: CfgAttrType::INTERNAL_IP4_DNS, value: vec![] },
                ],
            }),
            Payload::Cp(Configuration {
                ty: CfgType::REPLY,
                attributes: vec![CfgAttribute {
                    ty: CfgAttrType::INTERNAL_IP4_ADDRESS,
                    value: vec![10, 9, 0, 2],
                }],
            }),
        ]);
    }

    #[test]
    fn attribute_overrun() {
        assert_eq!(
            Configuration::decode(&hex("02000000 0001 0004 0a09")).unwrap_err().kind,
            ErrorKind::Truncated
        );
        assert_eq!(Configuration::decode(&hex("02000000 00")).unwrap_err().kind, ErrorKind::Truncated);
    }
}
