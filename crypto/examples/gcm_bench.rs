//! Short AES-128-GCM micro-benchmark: ns per seal (or per packet in 32-packet
//! bursts), and per verified open, for each backend and the `aes-gcm` crate. Every case
//! gets 15 samples of ~3 ms, taken round-robin across the cases so that load
//! from other processes spreads over all of them; prints median and minimum.
//!
//! `cargo run --release -p espgw-crypto --example gcm_bench`

use std::hint::black_box;
use std::time::Instant;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use espgw_crypto::{Backend, GcmKey, Job};

const SIZES: [usize; 4] = [64, 512, 1420, 16384];
const AAD: [u8; 8] = [0, 0, 0x12, 0x34, 0, 0, 0, 1];
const NONCE: [u8; 12] = [7; 12];
const BURST: usize = 32;
const SAMPLES: usize = 15;

/// One benchmark case: runs `iters` operations, returns how many packets.
type Case = Box<dyn FnMut(u64) -> u64>;

fn single(k: GcmKey, size: usize) -> Case {
    let mut buf = vec![0u8; size];
    Box::new(move |iters| {
        for _ in 0..iters {
            black_box(k.seal(&NONCE, &AAD, black_box(&mut buf)));
        }
        iters
    })
}

/// Verified opens only: X seals to C with tag T1; C, taken as plaintext,
/// seals to X with tag T2 (CTR is an involution), so opening C with T1 gives
/// X and opening X with T2 gives C back.
fn open(k: GcmKey, size: usize) -> Case {
    let mut buf = vec![0u8; size];
    let t1 = k.seal(&NONCE, &AAD, &mut buf);
    let mut x = buf.clone();
    let t2 = k.seal(&NONCE, &AAD, &mut x);
    let mut odd = false;
    Box::new(move |iters| {
        for _ in 0..iters {
            let tag = if odd { &t2 } else { &t1 };
            assert!(k.open(&NONCE, &AAD, black_box(&mut buf), tag));
            odd = !odd;
        }
        iters
    })
}

fn burst(k: GcmKey, size: usize) -> Case {
    let mut bufs = vec![vec![0u8; size]; BURST];
    Box::new(move |iters| {
        for _ in 0..iters {
            let mut jobs: Vec<Job<'_>> = bufs
                .iter_mut()
                .map(|d| Job { nonce: NONCE, aad: &AAD, data: d, tag: [0; 16], ok: false })
                .collect();
            k.seal_many(black_box(&mut jobs));
        }
        iters * BURST as u64
    })
}

fn rustcrypto(size: usize) -> Case {
    let c = Aes128Gcm::new_from_slice(&[0x42; 16]).unwrap();
    let mut buf = vec![0u8; size];
    Box::new(move |iters| {
        for _ in 0..iters {
            let t = c.encrypt_in_place_detached(Nonce::from_slice(&NONCE), &AAD, black_box(&mut buf));
            black_box(t.unwrap());
        }
        iters
    })
}

fn main() {
    let key = [0x42u8; 16];
    let backends: Vec<Backend> = Backend::ALL.into_iter().filter(|b| b.is_available()).collect();
    let mut rows: Vec<(String, Vec<Case>)> = Vec::new();
    for &b in &backends {
        let cases = SIZES.iter().map(|&s| single(GcmKey::with_backend(&key, b).unwrap(), s)).collect();
        rows.push((format!("{b:?}"), cases));
    }
    rows.push(("aes-gcm 0.10 crate".into(), SIZES.iter().map(|&s| rustcrypto(s)).collect()));
    for &b in &backends {
        let cases = SIZES.iter().map(|&s| open(GcmKey::with_backend(&key, b).unwrap(), s)).collect();
        rows.push((format!("{b:?} open"), cases));
    }
    for &b in &backends {
        let cases = SIZES.iter().map(|&s| burst(GcmKey::with_backend(&key, b).unwrap(), s)).collect();
        rows.push((format!("{b:?} seal_many x{BURST}"), cases));
    }

    // Calibrate each case to ~3 ms per sample.
    let mut iters: Vec<Vec<u64>> = Vec::new();
    for (_, cases) in rows.iter_mut() {
        let mut v = Vec::new();
        for c in cases.iter_mut() {
            let mut n = 1u64;
            loop {
                let t = Instant::now();
                c(n);
                let us = t.elapsed().as_micros() as u64;
                if us >= 1000 {
                    v.push((n * 3000 / us).max(1));
                    break;
                }
                n *= 4;
            }
        }
        iters.push(v);
    }
    let mut samples = vec![vec![Vec::new(); SIZES.len()]; rows.len()];
    for _ in 0..SAMPLES {
        for (r, (_, cases)) in rows.iter_mut().enumerate() {
            for (s, c) in cases.iter_mut().enumerate() {
                let t = Instant::now();
                let pkts = c(iters[r][s]);
                samples[r][s].push(t.elapsed().as_nanos() as f64 / pkts as f64);
            }
        }
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("AES-128-GCM, AAD 8 B: ns per packet, median (min) of {SAMPLES}; loadavg {}", load.trim());
    print!("{:<26}", "path");
    for s in SIZES {
        print!("{:>14}", format!("{s} B"));
    }
    println!();
    for (r, (name, _)) in rows.iter().enumerate() {
        print!("{name:<26}");
        for s in samples[r].iter_mut() {
            s.sort_by(|a, b| a.partial_cmp(b).unwrap());
            print!("{:>14}", format!("{:.0} ({:.0})", s[s.len() / 2], s[0]));
        }
        println!();
    }
}
