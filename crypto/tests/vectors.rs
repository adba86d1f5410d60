//! Known-answer tests: every published vector on every backend this CPU has.

mod common;

use common::{backends, hex};
use espgw_crypto::GcmKey;

/// One AEAD vector (hex).
struct Case {
    key: &'static str,
    iv: &'static str,
    aad: &'static str,
    pt: &'static str,
    ct: &'static str,
    tag: &'static str,
}

/// McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", revised
/// spec (2005), Appendix B, test cases 1-6 (AES-128) and 13-18 (AES-256),
/// the same vectors as NIST's GCM validation examples. Cases 5/6 and 17/18
/// use 64- and 480-bit IVs.
const GCM_SPEC: &[Case] = &[
    // Test case 1.
    Case {
        key: "00000000000000000000000000000000",
        iv: "000000000000000000000000",
        aad: "",
        pt: "",
        ct: "",
        tag: "58e2fccefa7e3061367f1d57a4e7455a",
    },
    // Test case 2.
    Case {
        key: "00000000000000000000000000000000",
        iv: "000000000000000000000000",
        aad: "",
        pt: "00000000000000000000000000000000",
        ct: "0388dace60b6a392f328c2b971b2fe78",
        tag: "ab6e47d42cec13bdf53a67b21257bddf",
    },
    // Test case 3.
    Case {
        key: "feffe9928665731c6d6a8f9467308308",
        iv: "cafebabefacedbaddecaf888",
        aad: "",
        pt: "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
              1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
        ct: "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
              21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
        tag: "4d5c2af327cd64a62cf35abd2ba6fab4",
    },
    // Test case 4.
    Case {
        key: "feffe9928665731c6d6a8f9467308308",
        iv: "cafebabefacedbaddecaf888",
        aad: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
        pt: "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
              1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        ct: "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
              21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
        tag: "5bc94fbc3221a5db94fae95ae7121a47",
    },
    // Test case 5.
    Case {
        key: "feffe9928665731c6d6a8f9467308308",
        iv: "cafebabefacedbad",
        aad: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
        pt: "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
              1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        ct: "61353b4c2806934a777ff51fa22a4755699b2a714fcdc6f83766e5f97b6c7423\
              73806900e49f24b22b097544d4896b424989b5e1ebac0f07c23f4598",
        tag: "3612d2e79e3b0785561be14aaca2fccb",
    },
    // Test case 6.
    Case {
        key: "feffe9928665731c6d6a8f9467308308",
        iv: "9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728\
              c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b",
        aad: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
        pt: "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
              1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        ct: "8ce24998625615b603a033aca13fb894be9112a5c3a211a8ba262a3cca7e2ca7\
              01e4a9a4fba43c90ccdcb281d48c7c6fd62875d2aca417034c34aee5",
        tag: "619cc5aefffe0bfa462af43c1699d050",
    },
    // Test case 13.
    Case {
        key: "0000000000000000000000000000000000000000000000000000000000000000",
        iv: "000000000000000000000000",
        aad: "",
        pt: "",
        ct: "",
        tag: "530f8afbc74536b9a963b4f1c4cb738b",
    },
    // Test case 14.
    Case {
        key: "0000000000000000000000000000000000000000000000000000000000000000",
        iv: "000000000000000000000000",
        aad: "",
        pt: "00000000000000000000000000000000",
        ct: "cea7403d4d606b6e074ec5d3baf39d18",
        tag: "d0d1c8a799996bf0265b98b5d48ab919",
    },
    // Test case 15.
    Case {
        key: "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
        iv: "cafebabefacedbaddecaf888",
        aad: "",
        pt: "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
              1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
        ct: "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
              8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
        tag: "b094dac5d93471bdec1a502270e3cc6c",
    },
    // Test case 16.
    Case {
        key: "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
        iv: "cafebabefacedbaddecaf888",
        aad: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
        pt: "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
              1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        ct: "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
              8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
        tag: "76fc6ece0f4e1768cddf8853bb2d551b",
    },
    // Test case 17.
    Case {
        key: "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
        iv: "cafebabefacedbad",
        aad: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
        pt: "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
              1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        ct: "c3762df1ca787d32ae47c13bf19844cbaf1ae14d0b976afac52ff7d79bba9de0\
              feb582d33934a4f0954cc2363bc73f7862ac430e64abe499f47c9b1f",
        tag: "3a337dbf46a792c45e454913fe2ea8f2",
    },
    // Test case 18.
    Case {
        key: "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
        iv: "9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728\
              c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b",
        aad: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
        pt: "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
              1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        ct: "5a8def2f0c9e53f1f75d7853659e2a20eeb2b22aafde6419a058ab4f6f746bf4\
              0fc0c3b780f244452da3ebf1c5d82cdea2418997200ef82e44ae7e3f",
        tag: "a44a8266ee1c8eb0c8b5d4cf5ae9f19a",
    },
];

/// draft-mcgrew-gcm-test-01 ("Test Cases for the use of GCM and GMAC in
/// IPsec ESP", 2009) §4, AES-128/256 GCM cases, as RFC 4106 uses them: the
/// nonce is salt ‖ explicit IV, the AAD SPI ‖ SeqLo or SPI ‖ SeqHi ‖ SeqLo
/// (ESN), the data the ESP payload.
const ESP_RFC4106: &[Case] = &[
    Case {
        key: "4c80cdefbb5d10da906ac73c3613a634",
        iv: "2e443b684956ed7e3b244cfe",
        aad: "000043218765432100000000",
        pt: "45000048699a000080114db7c0a80102c0a801010a9bf15638d3010000010000\
              00000000045f736970045f756470037369700963796265726369747902646b00\
              0021000101020201",
        ct: "fecf537e729d5b07dc30df528dd22b768d1b98736696a6fd348509fa13ceac34\
              cfa2436f14a3f3cf65925bf1f4a13c5d15b21e1884f5ff6247aeabb786b93bce\
              61bc17d768fd9732",
        tag: "459018148f6cbe722fd04796562dfdb4",
    },
    Case {
        key: "feffe9928665731c6d6a8f9467308308",
        iv: "cafebabefacedbaddecaf888",
        aad: "0000a5f80000000a",
        pt: "4500003e698f000080114dccc0a80102c0a801010a980035002a2343b2d00100\
              0001000000000000037369700963796265726369747902646b00000100010001",
        ct: "deb22cd9b07c72c16e3a65beeb8df304a5a5897d33ae530f1ba76d5d114d2a5c\
              3de81827c10e9a4f51330d0eec416642cfbb85a5b47e48a4ec3b9ba95d918bd1",
        tag: "83b70d3aa8bc6ee4c309e9d85a41ad4a",
    },
    Case {
        key: "abbccddef00112233445566778899aababbccddef00112233445566778899aab",
        iv: "112233440102030405060708",
        aad: "4a2cbfe300000002",
        pt: "4500003069a6400080062690c0a801029389155e0a9e008b2dc57ee000000000\
              7002400020bf0000020405b40101040201020201",
        ct: "ff425c9b724599df7a3bcd510194e00d6a78107f1b0b1cbf06efae9d65a5d763\
              748a637985771d347f0545659f14e99def842d8e",
        tag: "b335f4eecfdbf831824b4c4915956c96",
    },
    Case {
        key: "00000000000000000000000000000000",
        iv: "000000000000000000000000",
        aad: "0000000000000001",
        pt: "4500003c99c500008001cb7a40679318010101010800075c0200440061626364\
              65666768696a6b6c6d6e6f707172737475767761626364656667686901020201",
        ct: "4688daf2f973a392732909c331d56d60f694abaa414b5e7ff5fdcdfff5e9a284\
              456476492719ffb64de7d9dca1e1d894bc3bd57873ed4d181d19d4d5c8c18af3",
        tag: "f821d496eeb096e98ad2b69e4799c71d",
    },
    Case {
        key: "3de09874b388e6491988d0c3607eae1f",
        iv: "57690e434e280000a2fca1a3",
        aad: "42f67e3f1010101010101010",
        pt: "4500003c99c300008001cb7c40679318010101010800085c0200430061626364\
              65666768696a6b6c6d6e6f707172737475767761626364656667686901020201",
        ct: "fba2caa4853cf9f0f22cb10d86dd83b0fec75691cf1a04b00d1138ec9c357917\
              65acbd8701ad79845bf9fe3fba487bc91755e6662b4c8d0d1f5e22739530320a",
        tag: "e0d731cc978ecafaeae88f00e80d6e48",
    },
    Case {
        key: "3de09874b388e6491988d0c3607eae1f",
        iv: "57690e434e280000a2fca1a3",
        aad: "42f67e3f1010101010101010",
        pt: "4500001c42a200008001441f406793b6e00000020a00f5ff01020201",
        ct: "fba2ca845e5df9f0f22c3e6e86dd831e1fc65792cd1af9130e1379ed",
        tag: "369f071f35e034be95f112e4e7d05d35",
    },
    Case {
        key: "abbccddef00112233445566778899aab",
        iv: "decaf888cafedebaceface74",
        aad: "000001000000000000000001",
        pt: "4500004933ba00007f119106c3fb1d10c2b1d326c02831ce0035dd7b800302d5\
              00004e20001e8c18d75b81dc91baa0476b91b924b280389d92c963bac046ec95\
              9b6266c04722b14923010101",
        ct: "18a6fd42f72cbf4ab2a2ea901f73d814e3e7f243d95412e1c349c1d2fbec168f\
              9190feebaf2cb01984e65863965d7472b79da345e0e780191f0d2f0e0f496c22\
              6f2127b27db35724e7845d68",
        tag: "651f57e65f354f75ff17015769623436",
    },
    Case {
        key: "abbccddef00112233445566778899aababbccddef00112233445566778899aab",
        iv: "73616c74616e640169766563",
        aad: "17405e67156f3126dd0db99b",
        pt: "45080028732c00004006e9f90a0106120a01038f06b88023dd6bafbecb712602\
              50101f646d540001",
        ct: "f2d69ecdbd5a0d5b8d5ef38bad4da58d1f278fde98ef67549d524a3018d9a57f\
              f4d3a31ce673119e",
        tag: "451626c2415771e3b7eebca614c89b35",
    },
    Case {
        key: "3de09874b388e6491988d0c3607eae1f",
        iv: "57690e434e280000a2fca1a3",
        aad: "42f67e3f1010101010101010",
        pt: "45000049333e00007f119182c3fb1d10c2b1d326c02831ce0035cb458003025b\
              000001e0001e8c18d65759d52284a0352c71475c8880391c764d6e5ee0496b32\
              5ae270c03899493915010101",
        ct: "fba2cad12fc1f9f00d3cebf305410db83d7784b607323d220f24b0a97d541828\
              00cadb0f68d99ef0e0c0c89ae9bea8884e52d65bc1afd0740f742444747b5b39\
              ab533163aad4550ee5160975",
        tag: "cdb608c5769189609763b8e18caa81e2",
    },
    Case {
        key: "abbccddef00112233445566778899aababbccddef00112233445566778899aab",
        iv: "73616c74616e640169766563",
        aad: "17405e67156f3126dd0db99b",
        pt: "636973636f0172756c657301746865016e6574776501646566696e6501746865\
              746563686e6f6c6f67696573017468617477696c6c01646566696e65746f6d6f\
              72726f7701020201",
        ct: "d4b7ed86a1777f2ea13d6973d324c69e7b43f826fb56831226508bebd2dceb18\
              d0a6df10e5487df074113e14c641024e3e6773d91a62ee429b043a10e3efe6b0\
              12a49363412364f8",
        tag: "c0cac587f249e56b11e24f30e44ccc76",
    },
    Case {
        key: "7d773d00c144c525ac619d18c84a3f47",
        iv: "d966426743457e9182443bc6",
        aad: "335467aeffffffff",
        pt: "01020201",
        ct: "437f866b",
        tag: "cb3f699fe9b0822bac961c4504bef270",
    },
    Case {
        key: "abbccddef00112233445566778899aab",
        iv: "decaf888cafedebaceface74",
        aad: "000001000000000000000001",
        pt: "746f016265016f72016e6f7401746f0162650001",
        ct: "29c9fc69a197d038ccdd14e2ddfcaa0543332164",
        tag: "412503524303ed3c6c5f283843af8c3e",
    },
    Case {
        key: "6c6567616c697a656d6172696a75616e61616e64646f69746265666f72656961",
        iv: "7475726e333021696765746d",
        aad: "796b6963ffffffffffffffff",
        pt: "45000030da3a00008001df3bc0a80005c0a800010800c6cd0200070061626364\
              65666768696a6b6c6d6e6f707172737401020201",
        ct: "f97ab2aa356d8edce17644ac8c78e25dd24dedbb29ebf1b64a274b39b49c3a86\
              4cd3d78ca4ae68a32b42458fb57dbe821dcc63b9",
        tag: "d0937ba2945f669368661a329fb4c053",
    },
    Case {
        key: "3de09874b388e6491988d0c3607eae1f",
        iv: "57690e434e280000a2fca1a3",
        aad: "3f7ef6421010101010101010",
        pt: "45000030da3a00008001df3bc0a80005c0a800010800c6cd0200070061626364\
              65666768696a6b6c6d6e6f707172737401020201",
        ct: "fba2caa8c6c5f9f0f22ca54a061210ad3f6e5791cf1aca210d117cec9c357917\
              65acbd8701ad79845bf9fe3fba487bc963219306",
        tag: "84eecadb56912546e7a95c9740d7cb05",
    },
    Case {
        key: "4c80cdefbb5d10da906ac73c3613a634",
        iv: "22433c644855ec7d3a234bfd",
        aad: "000043218765432100000007",
        pt: "0800c6cd020007006162636465666768696a6b6c6d6e6f707172737401020201",
        ct: "74752e8aeb5d873cd7c0f4acc36c4bff84b7d7b98f0ca8b6acda6894bc619069",
        tag: "ef9cbc28fe1b56a7c4e0d58c86cd2bc0",
    },
];

fn check(name: &str, cases: &[Case]) -> usize {
    let mut n = 0;
    for (i, c) in cases.iter().enumerate() {
        let (key, iv, aad, pt, ct) = (hex(c.key), hex(c.iv), hex(c.aad), hex(c.pt), hex(c.ct));
        let tag: [u8; 16] = hex(c.tag).try_into().expect("16-byte tag");
        for b in backends() {
            let k = GcmKey::with_backend(&key, b).expect("key");
            let mut buf = pt.clone();
            let got = k.seal_with_iv(&iv, &aad, &mut buf);
            assert_eq!(buf, ct, "{name} {i} {b:?}: ciphertext");
            assert_eq!(got, tag, "{name} {i} {b:?}: tag");
            assert!(k.open_with_iv(&iv, &aad, &mut buf, &tag), "{name} {i} {b:?}: open");
            assert_eq!(buf, pt, "{name} {i} {b:?}: plaintext");
            if let Ok(nonce) = <[u8; 12]>::try_from(&iv[..]) {
                let mut buf = pt.clone();
                assert_eq!(k.seal(&nonce, &aad, &mut buf), tag, "{name} {i} {b:?}: seal");
                assert!(k.open(&nonce, &aad, &mut buf, &tag), "{name} {i} {b:?}: open 96");
            }
            // A flipped tag bit is refused and the ciphertext left as it was.
            let mut bad = tag;
            bad[15] ^= 0x80;
            let mut buf = ct.clone();
            assert!(!k.open_with_iv(&iv, &aad, &mut buf, &bad), "{name} {i} {b:?}: bad tag");
            assert_eq!(buf, ct, "{name} {i} {b:?}: untouched");
            n += 1;
        }
    }
    n
}

#[test]
fn gcm_spec_test_cases() {
    assert_eq!(GCM_SPEC.len(), 12);
    assert!(check("gcm-spec", GCM_SPEC) >= 12);
}

#[test]
fn rfc4106_esp_vectors() {
    assert_eq!(ESP_RFC4106.len(), 15);
    assert!(check("esp", ESP_RFC4106) >= 15);
}
