//! `espgw-perf crypto`: AES-128-GCM as ESP uses it (8-byte AAD, 12-byte nonce), espgw's engine
//! (`espgw-crypto`, the dispatch this CPU gets) next to aws-lc-rs, ring and RustCrypto's aes-gcm
//! in the same process. aws-lc-rs is the peer the targets are set against (`peer` in the
//! report); ring's and aes-gcm's figures go beside it (`also`).
//!
//! Cases: seal and open at each size, one buffer per call; seal in bursts of 32 buffers
//! (`seal_many`) at 64 B; and seal at 16 KiB in cycles per byte, next to the AES-128 floor of
//! this CPU (0.156 cycles/byte, shared/ENVIRONMENT.md). Samples of about 2 ms go round-robin
//! across the cases (so load spikes hit all of them alike); the median per case is reported,
//! in ns per packet. Built without the `peers` feature (`make build`), the peers are absent and
//! only espgw's figures are given.

use crate::report;
use serde_json::{json, Value};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const KEY: [u8; 16] = [7; 16];
const AAD: [u8; 8] = [0, 0, 0x10, 0x01, 0, 0, 0, 1];
const BURST: usize = 32;
/// AES-128 on this CPU at best (VAES-512, 10 rounds over 64 bytes per 4 cycles or so): the
/// cycles/byte floor the issue sets the 16 KiB target against.
const AES128_FLOOR_CPB: f64 = 0.156;

struct Opts {
    sizes: Vec<usize>,
    samples: usize,
    out: PathBuf,
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        sizes: vec![64, 128, 256, 512, 1024, 1420],
        samples: 25,
        out: PathBuf::from("target/perf/crypto.json"),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--sizes" => {
                o.sizes = val()?
                    .split(',')
                    .map(|s| s.parse().map_err(|_| format!("bad size {s}")))
                    .collect::<Result<_, _>>()?
            }
            "--samples" => o.samples = val()?.parse().map_err(|_| "bad --samples")?,
            "--out" => o.out = PathBuf::from(val()?),
            x => return Err(format!("unknown option {x}")),
        }
    }
    Ok(o)
}

/// One measured operation: runs `iters` times, returns nothing (results go to black_box).
type Case = (String, usize, Box<dyn FnMut(u64)>);

fn espgw_cases(size: usize) -> Vec<Case> {
    let k = espgw_crypto::GcmKey::new(&KEY).expect("key");
    let k2 = espgw_crypto::GcmKey::new(&KEY).expect("key");
    let mut buf = vec![0x5au8; size];
    let mut obuf = vec![0x5au8; size];
    let nonce = [1u8; 12];
    let tag = k2.seal(&nonce, &AAD, &mut obuf);
    let sealed = obuf.clone();
    vec![
        (
            "espgw-seal".into(),
            size,
            Box::new(move |n| {
                for _ in 0..n {
                    black_box(k.seal(&nonce, &AAD, black_box(&mut buf)));
                }
            }),
        ),
        (
            "espgw-open".into(),
            size,
            Box::new(move |n| {
                for _ in 0..n {
                    obuf.copy_from_slice(&sealed);
                    black_box(k2.open(&nonce, &AAD, black_box(&mut obuf), &tag));
                }
            }),
        ),
    ]
}

fn espgw_burst(size: usize) -> Case {
    let k = espgw_crypto::GcmKey::new(&KEY).expect("key");
    let mut bufs = vec![vec![0x5au8; size]; BURST];
    let nonces: Vec<[u8; 12]> = (0..BURST).map(|i| [i as u8; 12]).collect();
    (
        "espgw-seal-burst32".into(),
        size,
        Box::new(move |n| {
            for _ in 0..n {
                let mut jobs: Vec<espgw_crypto::Job<'_>> = bufs
                    .iter_mut()
                    .zip(&nonces)
                    .map(|(b, nonce)| espgw_crypto::Job {
                        nonce: *nonce,
                        aad: &AAD,
                        data: b,
                        tag: [0; 16],
                        ok: false,
                    })
                    .collect();
                k.seal_many(black_box(&mut jobs));
            }
        }),
    )
}

/// Seal and open cases for a library with ring's AEAD API (`LessSafeKey` and
/// `seal_in_place_separate_tag`): aws-lc-rs, which took the API from ring, and ring.
#[cfg(feature = "peers")]
macro_rules! ring_api_cases {
    ($lib:ident, $name:literal, $size:expr) => {{
        use $lib::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
        let size = $size;
        let key = || LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &KEY).expect("key"));
        let (k, k2) = (key(), key());
        let mut buf = vec![0x5au8; size];
        let mut obuf = vec![0x5au8; size];
        let tag = k2
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key([1; 12]), Aad::from(AAD), &mut obuf)
            .expect("seal");
        let mut sealed = obuf.clone();
        sealed.extend_from_slice(tag.as_ref());
        let mut obuf = sealed.clone();
        let cases: Vec<Case> = vec![
            (
                concat!($name, "-seal").into(),
                size,
                Box::new(move |n| {
                    for _ in 0..n {
                        let t = k.seal_in_place_separate_tag(
                            Nonce::assume_unique_for_key([1; 12]),
                            Aad::from(AAD),
                            black_box(&mut buf),
                        );
                        black_box(t.ok());
                    }
                }),
            ),
            (
                concat!($name, "-open").into(),
                size,
                Box::new(move |n| {
                    for _ in 0..n {
                        obuf.copy_from_slice(&sealed);
                        let r = k2.open_in_place(
                            Nonce::assume_unique_for_key([1; 12]),
                            Aad::from(AAD),
                            black_box(&mut obuf),
                        );
                        black_box(r.is_ok());
                    }
                }),
            ),
        ];
        cases
    }};
}

/// Every in-process peer's cases: aws-lc-rs, ring and RustCrypto's aes-gcm.
#[cfg(feature = "peers")]
fn peer_cases(size: usize) -> Vec<Case> {
    let mut cases = ring_api_cases!(aws_lc_rs, "aws-lc-rs", size);
    cases.extend(ring_api_cases!(ring, "ring", size));
    cases.extend(rustcrypto_cases(size));
    cases
}

/// Seal and open with RustCrypto's aes-gcm (the `aes` and `ghash` crates espgw's portable
/// backend is built on, with their own run-time AES-NI and CLMUL dispatch).
#[cfg(feature = "peers")]
fn rustcrypto_cases(size: usize) -> Vec<Case> {
    use aes_gcm::aead::{AeadInPlace, KeyInit};
    use aes_gcm::{Aes128Gcm, Nonce};
    let (k, k2) =
        (Aes128Gcm::new_from_slice(&KEY).expect("key"), Aes128Gcm::new_from_slice(&KEY).expect("key"));
    let nonce = *Nonce::from_slice(&[1; 12]);
    let mut buf = vec![0x5au8; size];
    let mut sealed = vec![0x5au8; size];
    let tag = k2.encrypt_in_place_detached(&nonce, &AAD, &mut sealed).expect("seal");
    let mut obuf = sealed.clone();
    vec![
        (
            "aes-gcm-seal".into(),
            size,
            Box::new(move |n| {
                for _ in 0..n {
                    black_box(k.encrypt_in_place_detached(&nonce, &AAD, black_box(&mut buf)).ok());
                }
            }),
        ),
        (
            "aes-gcm-open".into(),
            size,
            Box::new(move |n| {
                for _ in 0..n {
                    obuf.copy_from_slice(&sealed);
                    black_box(k2.decrypt_in_place_detached(&nonce, &AAD, black_box(&mut obuf), &tag).is_ok());
                }
            }),
        ),
    ]
}

#[cfg(not(feature = "peers"))]
fn peer_cases(_size: usize) -> Vec<Case> {
    Vec::new()
}

/// The libraries measured beside aws-lc-rs, with the name prefix of their cases.
const OTHERS: [(&str, &str); 2] = [("ring", "ring"), ("RustCrypto aes-gcm", "aes-gcm")];

/// Median ns per operation of each case: `samples` rounds, each case about 2 ms per round.
fn measure(cases: &mut [Case], samples: usize) -> Vec<f64> {
    let mut iters: Vec<u64> = Vec::new();
    for c in cases.iter_mut() {
        // Calibrate: how many calls fit in about 2 ms.
        let mut n = 1u64;
        loop {
            let t = Instant::now();
            (c.2)(n);
            if t.elapsed() >= Duration::from_micros(500) || n >= 1 << 30 {
                iters.push((n * 4).max(1));
                break;
            }
            n *= 2;
        }
    }
    let mut per: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    for _ in 0..samples {
        for (i, c) in cases.iter_mut().enumerate() {
            let t = Instant::now();
            (c.2)(iters[i]);
            per[i].push(t.elapsed().as_nanos() as f64 / iters[i] as f64);
        }
    }
    per.iter_mut().map(|v| report::median(v)).collect()
}

/// TSC ticks per nanosecond, from the invariant TSC against the monotonic clock.
fn ticks_per_ns() -> f64 {
    let (t0, c0) = (Instant::now(), dpdk_sys::tsc());
    std::thread::sleep(Duration::from_millis(200));
    let (t1, c1) = (Instant::now(), dpdk_sys::tsc());
    (c1.wrapping_sub(c0)) as f64 / (t1 - t0).as_nanos() as f64
}

/// A peer's figure as reported (rounded) and how many times better espgw is: lower is better
/// for every unit here.
fn against(peer_value: f64, espgw: f64) -> (f64, f64) {
    ((peer_value * 1000.0).round() / 1000.0, (peer_value / espgw * 100.0).round() / 100.0)
}

fn result(scenario: &str, size: &str, espgw: f64, peer: &str, peer_value: Option<f64>, unit: &str) -> Value {
    let (peer_value, ratio) = match peer_value.map(|p| against(p, espgw)) {
        Some((v, r)) => (Some(v), Some(r)),
        None => (None, None),
    };
    json!({"scenario": scenario, "size": size, "cores": 1, "espgw": (espgw * 100.0).round() / 100.0,
           "peer": peer, "peer_value": peer_value, "unit": unit, "ratio": ratio})
}

pub fn main(args: &[String]) -> Result<(), String> {
    let o = parse(args)?;
    let backend = espgw_crypto::Backend::detect();
    let peer = if cfg!(feature = "peers") {
        "aws-lc-rs, ring and RustCrypto aes-gcm"
    } else {
        "(none: built without the peers feature)"
    };
    eprintln!("crypto: espgw-crypto {backend:?} next to {peer}; {} samples per case", o.samples);
    let mut results = Vec::new();
    let dash = |v: Option<f64>| v.map_or("-".into(), |p| format!("{p:.1}"));
    println!(
        "{:<22} {:>6} {:>10} {:>12} {:>6} {:>9} {:>10}",
        "scenario", "size", "espgw ns", "aws-lc-rs ns", "ratio", "ring ns", "aes-gcm ns"
    );
    for &size in &o.sizes {
        let mut cases = espgw_cases(size);
        cases.extend(peer_cases(size));
        if size == 64 {
            cases.push(espgw_burst(size));
        }
        let m = measure(&mut cases, o.samples);
        let get = |name: &str| cases.iter().position(|c| c.0 == name).map(|i| m[i]);
        for op in ["seal", "open"] {
            let e = get(&format!("espgw-{op}")).unwrap_or(0.0);
            let p = get(&format!("aws-lc-rs-{op}"));
            let mut r = result(&format!("aes128gcm-{op}"), &size.to_string(), e, "aws-lc-rs", p, "ns");
            let others: Vec<Option<f64>> =
                OTHERS.iter().map(|(_, pre)| get(&format!("{pre}-{op}"))).collect();
            if others.iter().any(Option::is_some) {
                r["also"] = OTHERS
                    .iter()
                    .zip(&others)
                    .filter_map(|((name, _), v)| {
                        let (v, ratio) = against((*v)?, e);
                        Some(json!({"peer": name, "peer_value": v, "ratio": ratio}))
                    })
                    .collect();
            }
            println!(
                "{:<22} {:>6} {:>10.1} {:>12} {:>6} {:>9} {:>10}",
                format!("aes128gcm-{op}"),
                size,
                e,
                dash(p),
                r["ratio"],
                dash(others[0]),
                dash(others[1])
            );
            results.push(r);
        }
        if let Some(b) = get("espgw-seal-burst32") {
            let per_packet = b / BURST as f64;
            let p = get("aws-lc-rs-seal");
            let r = result("aes128gcm-seal-burst32", &size.to_string(), per_packet, "aws-lc-rs", p, "ns");
            println!(
                "{:<22} {:>6} {:>10.1} {:>12} {:>6}",
                "aes128gcm-seal-burst32",
                size,
                per_packet,
                p.map_or("-".into(), |p| format!("{p:.1}")),
                r["ratio"]
            );
            results.push(r);
        }
    }
    // 16 KiB: cycles per byte against the AES floor.
    let mut big = espgw_cases(16384);
    big.truncate(1);
    let ns = measure(&mut big, o.samples)[0];
    let cpb = ns * ticks_per_ns() / 16384.0;
    let r = result(
        "aes128gcm-seal-cpb",
        "16384",
        cpb,
        "AES-128 floor of this CPU",
        Some(AES128_FLOOR_CPB),
        "cycles/byte",
    );
    println!(
        "{:<22} {:>6} {:>10.3} {:>12} {:>6}   (cycles/byte)",
        "aes128gcm-seal-cpb", 16384, cpb, AES128_FLOOR_CPB, r["ratio"]
    );
    results.push(r);
    report::write(&o.out, results).map_err(|e| format!("{}: {e}", o.out.display()))?;
    eprintln!("crypto: written to {}", o.out.display());
    Ok(())
}
