use crate::error::{DpdkError, Result};
use crate::ffi;
use std::ffi::CString;
use std::os::raw::{c_char, c_int};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

static INITIALISED: AtomicBool = AtomicBool::new(false);

/// The DPDK Environment Abstraction Layer of this process.
///
/// DPDK allows one `rte_eal_init` per process; a second `Eal::init` returns an error. The
/// handle is cheap to clone; mempools, ports and rings keep a clone so the EAL is cleaned
/// up (`rte_eal_cleanup`, and its runtime directory under /var/run/dpdk removed) only after
/// the last of them is dropped.
#[derive(Clone)]
pub struct Eal {
    // Held for its Drop: the last handle cleans the EAL up.
    #[allow(dead_code)]
    inner: Arc<EalInner>,
}

struct EalInner {
    runtime_dir: Option<PathBuf>,
}

impl Eal {
    /// Initialises the EAL with `args` (without the program name). Consumes every argument:
    /// unknown ones are an error rather than silently left for the application.
    pub fn init<S: AsRef<str>>(args: &[S]) -> Result<Eal> {
        if INITIALISED.swap(true, Ordering::SeqCst) {
            return Err(DpdkError::msg("rte_eal_init", "the EAL is already initialised in this process"));
        }
        let mut owned: Vec<CString> = vec![CString::new("espgw").unwrap()];
        for a in args {
            owned.push(
                CString::new(a.as_ref())
                    .map_err(|_| DpdkError::msg("rte_eal_init", "argument contains a NUL byte"))?,
            );
        }
        // rte_eal_init may permute argv; give it a private array of pointers.
        let mut argv: Vec<*mut c_char> = owned.iter().map(|c| c.as_ptr() as *mut c_char).collect();
        let argc = argv.len() as c_int;
        // SAFETY: argv holds argc valid NUL-terminated strings that outlive the call (owned);
        // the EAL is initialised at most once per process (guarded by INITIALISED).
        let ret = unsafe { ffi::rte_eal_init(argc, argv.as_mut_ptr()) };
        if ret < 0 {
            INITIALISED.store(false, Ordering::SeqCst);
            return Err(DpdkError::from_ret("rte_eal_init", ret));
        }
        if ret as usize != argv.len() - 1 {
            return Err(DpdkError::msg("rte_eal_init", "unconsumed arguments after EAL options"));
        }
        let prefix = file_prefix(args);
        let runtime_dir = prefix.map(|p| PathBuf::from("/var/run/dpdk").join(p));
        Ok(Eal { inner: Arc::new(EalInner { runtime_dir }) })
    }

    /// Number of lcores the EAL was given.
    pub fn lcore_count(&self) -> u32 {
        // SAFETY: the EAL is initialised (we hold a handle).
        unsafe { ffi::rte_lcore_count() }
    }

    /// The main lcore id (the thread that called `init`).
    pub fn main_lcore(&self) -> u32 {
        // SAFETY: the EAL is initialised.
        unsafe { ffi::rte_get_main_lcore() }
    }

    /// Whether `lcore` is one of the EAL's lcores.
    pub fn lcore_enabled(&self, lcore: u32) -> bool {
        // SAFETY: the EAL is initialised; any id is accepted (out of range returns 0).
        unsafe { ffi::rte_lcore_is_enabled(lcore) != 0 }
    }

    /// Ethernet ports probed by the EAL (vdevs from `--vdev`, PCI devices).
    pub fn port_count(&self) -> u16 {
        // SAFETY: the EAL is initialised.
        unsafe { ffi::rte_eth_dev_count_avail() }
    }
}

fn file_prefix<S: AsRef<str>>(args: &[S]) -> Option<String> {
    let mut it = args.iter().map(|a| a.as_ref());
    while let Some(a) = it.next() {
        if let Some(v) = a.strip_prefix("--file-prefix=") {
            return Some(v.to_string());
        }
        if a == "--file-prefix" {
            return it.next().map(str::to_string);
        }
    }
    Some("rte".to_string())
}

impl Drop for EalInner {
    fn drop(&mut self) {
        // SAFETY: this is the last handle: every mempool, port and ring holding an Eal clone
        // is gone, and worker lcores have been waited for by their LcoreHandle.
        unsafe { ffi::rte_eal_cleanup() };
        if let Some(dir) = &self.runtime_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
