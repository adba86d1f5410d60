//! Short AES-128-GCM seal micro-benchmark: ns per call for each backend, the
//! `aes-gcm` crate, and 32-packet bursts. Median of 7 runs of ~20 ms each.
//!
//! `cargo run --release -p espgw-crypto --example gcm_bench`

use std::hint::black_box;
use std::time::Instant;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use espgw_crypto::{Backend, GcmKey, Job};

const SIZES: [usize; 4] = [64, 512, 1420, 16384];
const AAD: [u8; 8] = [0, 0, 0x12, 0x34, 0, 0, 0, 1];

/// Median ns per call of `f` over 7 runs.
fn measure(mut f: impl FnMut()) -> f64 {
    // Calibrate the iteration count to ~20 ms.
    let mut iters = 1u64;
    loop {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        if t.elapsed().as_millis() >= 5 {
            iters = iters * 20 / (t.elapsed().as_millis() as u64).max(1) + 1;
            break;
        }
        iters *= 4;
    }
    let mut runs: Vec<f64> = (0..7)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            t.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    runs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    runs[3]
}

fn main() {
    let key = [0x42u8; 16];
    let nonce = [7u8; 12];
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("AES-128-GCM seal, ns per call (median of 7), AAD 8 bytes; loadavg {}", load.trim());
    print!("{:<22}", "path");
    for s in SIZES {
        print!("{s:>9}");
    }
    println!();
    for b in Backend::ALL.into_iter().filter(|b| b.is_available()) {
        let k = GcmKey::with_backend(&key, b).unwrap();
        print!("{:<22}", format!("espgw-crypto {b:?}"));
        for s in SIZES {
            let mut buf = vec![0u8; s];
            print!(
                "{:>9.0}",
                measure(|| {
                    black_box(k.seal(&nonce, &AAD, black_box(&mut buf)));
                })
            );
        }
        println!();
    }
    let c = Aes128Gcm::new_from_slice(&key).unwrap();
    print!("{:<22}", "aes-gcm 0.10 crate");
    for s in SIZES {
        let mut buf = vec![0u8; s];
        print!(
            "{:>9.0}",
            measure(|| {
                black_box(
                    c.encrypt_in_place_detached(Nonce::from_slice(&nonce), &AAD, black_box(&mut buf))
                        .unwrap(),
                );
            })
        );
    }
    println!();
    println!("bursts of 32 packets (seal_many), ns per packet:");
    for b in Backend::ALL.into_iter().filter(|b| b.is_available()) {
        let k = GcmKey::with_backend(&key, b).unwrap();
        print!("{:<22}", format!("espgw-crypto {b:?}"));
        for s in SIZES {
            let mut bufs = vec![vec![0u8; s]; 32];
            let ns = measure(|| {
                let mut jobs: Vec<Job<'_>> = bufs
                    .iter_mut()
                    .map(|d| Job { nonce, aad: &AAD, data: d, tag: [0; 16], ok: false })
                    .collect();
                k.seal_many(black_box(&mut jobs));
            });
            print!("{:>9.0}", ns / 32.0);
        }
        println!();
    }
}
