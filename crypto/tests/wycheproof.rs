//! A subset of Wycheproof's `testvectors_v1/aes_gcm_test.json` (C2SP), the
//! group ivSize 96 / keySize 128 / tagSize 128, transcribed by hand (the file
//! could not be downloaded from this machine): tcId 1-14 (known-answer and
//! pseudorandom sizes, AAD 0-24 bytes), 39-40 (special IVs and tags), and
//! 41-61 (single and double bit flips in the tag, all to be rejected).

mod common;

use common::{backends, hex};
use espgw_crypto::GcmKey;

/// (tcId, key, iv, aad, msg, ct, tag), all "valid".
#[rustfmt::skip]
const VALID: &[(u32, &str, &str, &str, &str, &str, &str)] = &[
    (1, "5b9604fe14eadba931b0ccf34843dab9", "028318abc1824029138141a2", "",
     "001d0c231287c1182784554ca3a21908", "26073cc1d851beff176384dc9896d5ff", "0a3ea7a5487cb5f7d70fb6c58d038554"),
    (2, "5b9604fe14eadba931b0ccf34843dab9", "921d2507fa8007b7bd067d34", "00112233445566778899aabbccddeeff",
     "001d0c231287c1182784554ca3a21908", "49d8b9783e911913d87094d1f63cc765", "1e348ba07cca2cf04c618cb4d43a5b92"),
    (3, "aa023d0478dcb2b2312498293d9a9129", "0432bc49ac34412081288127", "aac39231129872a2",
     "2035af313d1346ab00154fea78322105", "eea945f3d0f98cc0fbab472a0cf24e87", "4bb9b4812519dadf9e1232016d068133"),
    (4, "bedcfb5a011ebc84600fcb296c15af0d", "438a547a94ea88dce46c6c85", "", "", "",
     "960247ba5cde02e41a313c4c0136edc3"),
    (5, "384ea416ac3c2f51a76e7d8226346d4e", "b30c084727ad1c592ac21d12", "", "35", "54",
     "7c1e4ae88bb27e5638343cb9fd3f6337"),
    (6, "cae31cd9f55526eb038241fc44cac1e5", "b5e006ded553110e6dc56529", "", "d10989f2c52e94ad", "a036ead03193903f",
     "3b626940e0e9f0cbea8e18c437fd6011"),
    (7, "dd6197cd63c963919cf0c273ef6b28bf", "ecb0c42f7000ef0e6f95f24d", "", "4dcc1485365866e25ac3f2ca6aba97",
     "8a9992388e735f80ee18f4a63c10ad", "1486a91cccf92c9a5b00f7b0e034891c"),
    (8, "ffdf4228361ea1f8165852136b3480f7", "0e1666f2dc652f7708fb8f0d", "", "25b12e28ac0ef6ead0226a3b2288c800",
     "f7bd379d130477176b8bb3cb23dbbbaa", "1ee6513ce30c7873f59dd4350a588f42"),
    (9, "c15ed227dd2e237ecd087eaaaad19ea4", "965ff6643116ac1443a2dec7", "", "fee62fde973fe025ad6b322dcdf3c63fc7",
     "0de51fe4f7f2d1f0f917569f5c6d1b009c", "6cd8521422c0177e83ef1b7a845d97db"),
    (10, "a8ee11b26d7ceb7f17eaa1e4b83a2cf6", "fbbc04fd6e025b7193eb57f6", "",
     "c08f085e6a9e0ef3636280c11ecfadf0c1e72919ffc17eaf", "7cd9f4e4f365704fff3b9900aa93ba54b672bac554275650",
     "f4eb193241226db017b32ec38ca47217"),
    (11, "28ff3def08179311e2734c6d1c4e2871", "32bcb9b569e3b852d37c766a", "c3",
     "dfc61a20df8505b53e3cd59f25770d5018add3d6", "f58d453212c2c8a436e9283672f579f119122978",
     "5901131d0760c8715901d881fdfd3bc0"),
    (12, "e63a43216c08867210e248859eb5e99c", "9c3a4263d983456658aad4b1", "834afdc5c737186b",
     "b14da56b0462dc05b871fc815273ff4810f92f4b", "bf864616c2347509ca9b10446379b9bdbb3b8f64",
     "a97d25b490390b53c5db91f6ee2a15b8"),
    (13, "38449890234eb8afab0bbf82e2385454", "33e90658416e7c1a7c005f11", "4020855c66ac4595058395f367201c4c",
     "f762776bf83163b323ca63a6b3adeac1e1357262", "a6f2ef3c7ef74a126dd2d5f6673964e27d5b34b6",
     "b8bbdc4f5014bc752c8b4e9b87f650a3"),
    (14, "6a68671dfe323d419894381f85eb63fd", "9f0d85b605711f34cd2a35ba",
     "76eb5f147250fa3c12bff0a6e3934a0b16860cf11646773b", "0fc67899c3f1bbe196d90f1eca3797389230aa37",
     "bd64802cfebaeb487d3a8f76ce943a37b3472dd5", "fce9a5b530c7d7af718be1ec0ae9ed4d"),
    (39, "00112233445566778899aabbccddeeff", "000000000000000000000000", "",
     "ebd4a3e10cf6d41c50aeae007563b072", "f62d84d649e56bc8cfedc5d74a51e2f7", "ffffffffffffffffffffffffffffffff"),
    (40, "00112233445566778899aabbccddeeff", "ffffffffffffffffffffffff", "",
     "d593c4d8224f1b100c35e4f6c4006543", "431f31e6840931fd95f94bf88296ff69", "00000000000000000000000000000000"),
];

/// tcId 41-61: key 000102…0f, iv 505152…5b, no AAD, msg 202122…2f, ct
/// eb156d…39; each tag is the valid one with bits flipped ("invalid").
const FLIPPED_TAGS: &[(u32, &str)] = &[
    (41, "d9847dbc326a06e988c77ad3863e6083"),
    (42, "da847dbc326a06e988c77ad3863e6083"),
    (43, "58847dbc326a06e988c77ad3863e6083"),
    (44, "d8857dbc326a06e988c77ad3863e6083"),
    (45, "d8847d3c326a06e988c77ad3863e6083"),
    (46, "d8847dbc336a06e988c77ad3863e6083"),
    (47, "d8847dbc306a06e988c77ad3863e6083"),
    (48, "d8847dbc326a066988c77ad3863e6083"),
    (49, "d8847dbc326a06e989c77ad3863e6083"),
    (50, "d8847dbc326a06e908c77ad3863e6083"),
    (51, "d8847dbc326a06e988e77ad3863e6083"),
    (52, "d8847dbc326a06e988c77bd3863e6083"),
    (53, "d8847dbc326a06e988c77ad3873e6083"),
    (54, "d8847dbc326a06e988c77ad3843e6083"),
    (55, "d8847dbc326a06e988c77ad3063e6083"),
    (56, "d8847dbc326a06e988c77ad3863e6082"),
    (57, "d8847dbc326a06e988c77ad3863e6081"),
    (58, "d8847dbc326a06e988c77ad3863e60c3"),
    (59, "d8847dbc326a06e988c77ad3863e6003"),
    (60, "d9847dbc326a06e989c77ad3863e6083"),
    (61, "d8847d3c326a066988c77ad3863e6083"),
];

#[test]
fn wycheproof_valid() {
    for &(id, key, iv, aad, msg, ct, tag) in VALID {
        let (key, iv, aad, msg, ct) = (hex(key), hex(iv), hex(aad), hex(msg), hex(ct));
        let nonce: [u8; 12] = iv.try_into().unwrap();
        let tag: [u8; 16] = hex(tag).try_into().unwrap();
        for b in backends() {
            let k = GcmKey::with_backend(&key, b).unwrap();
            let mut buf = msg.clone();
            assert_eq!(k.seal(&nonce, &aad, &mut buf), tag, "tcId {id} {b:?}: tag");
            assert_eq!(buf, ct, "tcId {id} {b:?}: ct");
            assert!(k.open(&nonce, &aad, &mut buf, &tag), "tcId {id} {b:?}: open");
            assert_eq!(buf, msg, "tcId {id} {b:?}: msg");
        }
    }
}

#[test]
fn wycheproof_modified_tags() {
    let key = hex("000102030405060708090a0b0c0d0e0f");
    let nonce: [u8; 12] = hex("505152535455565758595a5b").try_into().unwrap();
    let msg = hex("202122232425262728292a2b2c2d2e2f");
    let ct = hex("eb156d081ed6b6b55f4612f021d87b39");
    for b in backends() {
        let k = GcmKey::with_backend(&key, b).unwrap();
        // The unmodified tag (tcId 41 with bit 0 flipped back) verifies.
        let good: [u8; 16] = hex("d8847dbc326a06e988c77ad3863e6083").try_into().unwrap();
        let mut buf = msg.clone();
        assert_eq!(k.seal(&nonce, &[], &mut buf), good, "{b:?}");
        assert_eq!(buf, ct);
        for &(id, tag) in FLIPPED_TAGS {
            let tag: [u8; 16] = hex(tag).try_into().unwrap();
            let mut buf = ct.clone();
            assert!(!k.open(&nonce, &[], &mut buf, &tag), "tcId {id} {b:?} accepted");
            assert_eq!(buf, ct, "tcId {id} {b:?}: ciphertext kept");
        }
    }
}
