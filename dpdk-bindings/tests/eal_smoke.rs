//! EAL smoke test. DPDK allows one `rte_eal_init` per process, so the test re-runs this test
//! binary as a child process (selected by an environment variable) and checks its exit status.

use dpdk_sys::{mbuf_ring, Burst, Eal, Mempool, Port, PortConfig};
use std::process::Command;

const CHILD_ENV: &str = "DPDK_SYS_SMOKE_CHILD";

fn run_in_child(name: &str) {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, name)
        .output()
        .expect("spawn child test process");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child {name} failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("CHILD-OK"), "child did not reach the end:\n{stdout}\n{stderr}");
}

fn is_child(name: &str) -> bool {
    std::env::var(CHILD_ENV).map(|v| v == name).unwrap_or(false)
}

#[test]
fn ring_and_null_ports_move_bursts() {
    run_in_child("ring_and_null_ports_move_bursts");
    if !is_child("ring_and_null_ports_move_bursts") {
        return;
    }
    let prefix = format!("dpdk-sys-smoke-{}", std::process::id());
    let eal = Eal::init(&[
        "--no-huge",
        "-m",
        "128",
        "--no-pci",
        "-l",
        "0",
        "--log-level=lib.eal:error",
        &format!("--file-prefix={prefix}"),
        "--vdev=net_ring0",
        "--vdev=net_null0,size=64",
    ])
    .expect("EAL init");
    assert!(Eal::init(&["--no-huge"]).is_err(), "a second EAL init must be refused");
    assert_eq!(eal.port_count(), 2);
    let pool = Mempool::new(&eal, "smoke_pool", 2047, 32, -1).expect("mempool");

    // net_ring0: TX on queue 0 loops back to RX on queue 0.
    let ring_id = Port::id_by_name(&eal, "net_ring0").unwrap();
    let ring =
        Port::configure(&eal, ring_id, &PortConfig { promiscuous: false, ..Default::default() }, &pool)
            .unwrap();
    ring.start().unwrap();
    let mut rxq = ring.rx_queue(0).unwrap();
    let mut txq = ring.tx_queue(0).unwrap();
    assert!(ring.rx_queue(0).is_none(), "a queue handle is exclusive");

    let mut burst = Burst::new();
    for i in 0..32u8 {
        let mut m = pool.alloc().expect("alloc");
        assert!(m.append(60));
        m.data_mut().fill(i);
        burst.push(m).unwrap();
    }
    let mut sent = 0;
    let mut bursts = 0;
    while !burst.is_empty() {
        sent += txq.tx_burst(&mut burst);
        bursts += 1;
        assert!(bursts < 1000);
    }
    assert_eq!(sent, 32);
    let mut got = Burst::new();
    let n = rxq.rx_burst(&mut got, 64);
    assert_eq!(n, 32);
    for (i, m) in got.as_slice().iter().enumerate() {
        assert_eq!(m.data_len(), 60);
        assert!(m.data().iter().all(|&b| b == i as u8), "payload survives the loop");
    }
    let st = ring.stats();
    assert_eq!((st.tx_packets, st.rx_packets), (32, 32));
    drop(got); // bulk free
    assert_eq!(pool.in_use(), 0, "every mbuf returned to the pool");

    // net_null0: RX produces packets, TX swallows them.
    let null_id = Port::id_by_name(&eal, "net_null0").unwrap();
    let null =
        Port::configure(&eal, null_id, &PortConfig { promiscuous: false, ..Default::default() }, &pool)
            .unwrap();
    null.start().unwrap();
    assert!(null.link().up, "net_null reports link up once started");
    let mut nrx = null.rx_queue(0).unwrap();
    let mut ntx = null.tx_queue(0).unwrap();
    let mut total = 0;
    for _ in 0..10 {
        let mut b = Burst::new();
        let n = nrx.rx_burst(&mut b, 32);
        assert_eq!(n, 32);
        assert!(b.as_slice().iter().all(|m| m.data_len() == 64));
        total += ntx.tx_burst(&mut b);
        assert!(b.is_empty());
    }
    assert_eq!(total, 320);
    let ns = null.stats();
    assert_eq!(ns.rx_packets, 320);
    assert_eq!(ns.tx_packets, 320);
    assert!(!null.xstats().is_empty(), "xstats are reported");

    // A lockless ring hands mbufs to another lcore-less thread and back.
    let (prod, mut cons) = mbuf_ring(&eal, "smoke_ring", 64).unwrap();
    let mut b = Burst::new();
    for _ in 0..10 {
        b.push(pool.alloc().unwrap()).unwrap();
    }
    assert_eq!(prod.enqueue_burst(&mut b), 10);
    let t = std::thread::spawn(move || {
        let mut out = Burst::new();
        cons.dequeue_burst(&mut out, 64)
    });
    assert_eq!(t.join().unwrap(), 10);
    assert_eq!(pool.in_use(), 0);

    drop((rxq, txq, nrx, ntx));
    println!("CHILD-OK");
}

#[test]
fn worker_lcore_panic_is_caught() {
    run_in_child("worker_lcore_panic_is_caught");
    if !is_child("worker_lcore_panic_is_caught") {
        return;
    }
    let prefix = format!("dpdk-sys-launch-{}", std::process::id());
    let eal = Eal::init(&[
        "--no-huge",
        "-m",
        "64",
        "--no-pci",
        "-l",
        "0,1",
        "--log-level=lib.eal:error",
        &format!("--file-prefix={prefix}"),
    ])
    .expect("EAL init");
    let ok = eal.launch(1, || {
        assert_eq!(dpdk_sys::current_lcore(), 1);
    });
    assert_eq!(ok.unwrap().wait(), Ok(()));
    let bad = eal.launch(1, || panic!("boom on lcore"));
    match bad.unwrap().wait() {
        Err(dpdk_sys::LaunchError::Panicked(m)) => assert!(m.contains("boom on lcore")),
        other => panic!("expected a caught panic, got {other:?}"),
    }
    println!("CHILD-OK");
}
