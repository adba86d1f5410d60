//! `dpdk-sys`: espgw's narrow binding to DPDK 22.11 (Debian's libdpdk-dev).
//!
//! Two layers:
//! - [`ffi`]: bindgen output over an allowlist, plus `espgw_*` wrappers (compiled from
//!   `shim/shim.c`) for DPDK's `static inline` fast-path functions.
//! - A safe layer: [`Eal`] (one per process), [`Mempool`], [`Mbuf`] (an owned packet buffer,
//!   freed on drop), [`Burst`] (a fixed array of owned mbufs, bulk-freed), [`Port`] with
//!   exclusive [`RxQueue`]/[`TxQueue`] handles, [`MbufRing`] producer/consumer handles, and
//!   lcore launch with panics caught at the `extern "C"` boundary.
//! - [`host`]: not DPDK but the same kind of boundary: the Linux TUN interfaces and the
//!   rtnetlink route dump of the VTI exception path (control thread only).
//!
//! All `unsafe` in espgw lives in this crate; every block carries a `// SAFETY:` note.
//! The rest of the workspace is `#![forbid(unsafe_code)]`.

#![deny(unsafe_op_in_unsafe_fn)]

pub mod ffi {
    //! Raw bindings. Prefer the safe types in the crate root.
    #![allow(non_upper_case_globals, non_camel_case_types, non_snake_case, dead_code)]
    #![allow(clippy::all, unnecessary_transmutes, unsafe_op_in_unsafe_fn)]
    include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
}

mod burst;
mod eal;
mod error;
pub mod host;
mod lcore;
mod mbuf;
mod mempool;
mod port;
mod ring;

pub use burst::{Burst, MAX_BURST};
pub use eal::Eal;
pub use error::{DpdkError, Result};
pub use lcore::{current_lcore, tsc, tsc_hz, LaunchError, LcoreHandle};
pub use mbuf::Mbuf;
pub use mempool::Mempool;
pub use port::{LinkStatus, Port, PortConfig, PortStats, RxQueue, TxQueue, XStat};
pub use ring::{mbuf_ring, RingConsumer, RingProducer};

/// The DPDK version the crate was built against (pkg-config's `--modversion`).
pub const BUILD_DPDK_VERSION: &str = env!("DPDK_SYS_DPDK_VERSION");

/// The DPDK version of the library actually loaded (`rte_version()`).
pub fn runtime_version() -> String {
    // SAFETY: rte_version returns a pointer to a static NUL-terminated string; callable any time.
    let p = unsafe { ffi::espgw_version() };
    // SAFETY: p is non-null and NUL-terminated (static storage in librte_eal).
    unsafe { std::ffi::CStr::from_ptr(p) }.to_string_lossy().into_owned()
}
