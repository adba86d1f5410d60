//! Generates bindings to Debian's libdpdk through pkg-config and compiles the C shim
//! that exports DPDK's `static inline` fast-path functions.
//!
//! Nothing here hard-codes a path: include directories, compile flags and libraries all
//! come from `pkg-config libdpdk`. The shim is compiled with exactly pkg-config's flags
//! (which carry `-march=corei7` and `-include rte_config.h`), never `-march=native`.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn pkg_config(args: &[&str]) -> String {
    let out = Command::new("pkg-config")
        .args(args)
        .arg("libdpdk")
        .output()
        .unwrap_or_else(|e| panic!("cannot run pkg-config ({e}); run `make deps` first"));
    if !out.status.success() {
        panic!(
            "pkg-config {:?} libdpdk failed: {}\nInstall libdpdk-dev (make deps).",
            args,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8(out.stdout).expect("pkg-config output is UTF-8")
}

fn main() {
    println!("cargo:rerun-if-changed=shim/shim.c");
    println!("cargo:rerun-if-changed=shim/shim.h");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");

    let version = pkg_config(&["--modversion"]).trim().to_string();
    let cflags: Vec<String> = shell_split(&pkg_config(&["--cflags"]));
    let libs: Vec<String> = shell_split(&pkg_config(&["--libs"]));

    // Link: every -L becomes a search path, every -l a dylib. The Rust toolchain links with
    // --as-needed, so only libraries we reference end up as DT_NEEDED; PMDs are loaded by the
    // EAL at run time from its plugin directory.
    for flag in &libs {
        if let Some(dir) = flag.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={dir}");
        } else if let Some(lib) = flag.strip_prefix("-l") {
            println!("cargo:rustc-link-lib=dylib={lib}");
        }
    }
    println!("cargo:version={version}");
    println!("cargo:rustc-env=DPDK_SYS_DPDK_VERSION={version}");

    // The shim: compiled with pkg-config's flags only.
    let mut build = cc::Build::new();
    build.file("shim/shim.c").include("shim").opt_level(3).warnings(true);
    let mut i = 0;
    while i < cflags.len() {
        let f = &cflags[i];
        if f == "-include" && i + 1 < cflags.len() {
            build.flag("-include").flag(&cflags[i + 1]);
            i += 2;
            continue;
        }
        if let Some(dir) = f.strip_prefix("-I") {
            build.include(dir);
        } else {
            build.flag(f);
        }
        i += 1;
    }
    build.compile("espgw_dpdk_shim");

    // bindgen only needs the -I paths and the forced include of rte_config.h.
    let mut clang_args: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cflags.len() {
        let f = &cflags[i];
        if f == "-include" && i + 1 < cflags.len() {
            clang_args.push("-include".into());
            clang_args.push(cflags[i + 1].clone());
            i += 2;
            continue;
        }
        if f.starts_with("-I") {
            clang_args.push(f.clone());
        }
        i += 1;
    }
    clang_args.push("-Ishim".into());

    let bindings = bindgen::Builder::default()
        .header("shim/shim.h")
        .clang_args(&clang_args)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .allowlist_function(
            "rte_eal_(init|cleanup|remote_launch|wait_lcore|mp_wait_lcore|process_type|has_hugepages)",
        )
        .allowlist_function("rte_lcore_(count|index|is_enabled)|rte_get_main_lcore|rte_socket_id")
        .allowlist_function("rte_strerror|rte_version|rte_get_tsc_hz")
        .allowlist_function(
            "rte_eth_(dev_count_avail|dev_configure|rx_queue_setup|tx_queue_setup|dev_start|dev_stop|dev_close|dev_info_get|dev_socket_id|dev_get_port_by_name|dev_get_name_by_port|link_get_nowait|dev_default_mac_addr_set|stats_get|stats_reset|xstats_get|xstats_get_names|macaddr_get|promiscuous_enable|allmulticast_enable|dev_set_mtu|dev_get_mtu|find_next_owned_by)",
        )
        .allowlist_function("rte_pktmbuf_pool_create|rte_pktmbuf_free_bulk|rte_mempool_free|rte_mempool_avail_count|rte_mempool_in_use_count")
        .allowlist_function("rte_ring_create|rte_ring_free")
        .allowlist_function("espgw_.*")
        .allowlist_type("rte_mbuf|rte_eth_.*|rte_ether_addr|rte_mempool|rte_ring")
        .allowlist_var("RTE_ETH_.*|RING_F_.*|RTE_MBUF_DEFAULT_.*|RTE_MAX_LCORE|RTE_MAX_ETHPORTS|SOCKET_ID_ANY|RTE_ETHER_.*")
        .blocklist_type("__tile1024i.*")
        .opaque_type("rte_arp_ipv4|rte_arp_hdr|rte_gtp_psc_generic_hdr")
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false)
        .generate()
        .expect("bindgen over DPDK headers failed");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("bindings.rs");
    bindings.write_to_file(out).expect("write bindings");
}

/// pkg-config output is whitespace separated; Debian's libdpdk.pc quotes nothing.
fn shell_split(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}
