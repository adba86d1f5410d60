//! Build script of the `espgw` binary.
//!
//! - Probes libdpdk through pkg-config and fails early, with the fix, when it is missing.
//! - Stamps the DPDK version, the git revision (with `-dirty` for uncommitted changes) and the
//!   target CPU features into the binary for `espgw version`.
//! - Links the binary with full RELRO and immediate binding (it runs as root on an appliance).

use std::process::Command;

fn run(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/index");

    let dpdk = run("pkg-config", &["--modversion", "libdpdk"]).unwrap_or_else(|| {
        panic!("libdpdk not found through pkg-config: run `make deps` (installs libdpdk-dev, pkg-config, libclang-dev)")
    });
    let major: u32 = dpdk.split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
    if major < 22 {
        panic!("espgw needs DPDK 22.11 or newer; pkg-config reports {dpdk}");
    }
    println!("cargo:rustc-env=ESPGW_DPDK_VERSION={dpdk}");

    let rev = run("git", &["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = run("git", &["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    println!("cargo:rustc-env=ESPGW_GIT_REV={rev}{}", if dirty { "-dirty" } else { "" });

    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    println!("cargo:rustc-env=ESPGW_TARGET_FEATURES={features}");
    println!("cargo:rustc-env=ESPGW_PROFILE={}", std::env::var("PROFILE").unwrap_or_default());

    println!("cargo:rustc-link-arg-bins=-Wl,-z,relro,-z,now");
}
