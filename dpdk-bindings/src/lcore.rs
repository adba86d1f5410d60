use crate::eal::Eal;
use crate::error::{DpdkError, Result};
use crate::ffi;
use std::os::raw::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

/// Why a launched lcore function did not finish normally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LaunchError {
    /// The function panicked; the panic was caught at the lcore boundary. Carries its message.
    Panicked(String),
}

impl std::fmt::Display for LaunchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LaunchError::Panicked(m) => write!(f, "lcore function panicked: {m}"),
        }
    }
}

impl std::error::Error for LaunchError {}

type Slot = Arc<Mutex<Option<std::result::Result<(), LaunchError>>>>;

struct Job {
    f: Box<dyn FnOnce() + Send + 'static>,
    slot: Slot,
}

extern "C" fn trampoline(arg: *mut c_void) -> c_int {
    // SAFETY: arg is the Box<Job> leaked by Eal::launch, handed to exactly one lcore.
    let job = unsafe { Box::from_raw(arg as *mut Job) };
    let Job { f, slot } = *job;
    // A panic must never unwind into C: catch it here and report it through the slot.
    let outcome = catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".into());
        LaunchError::Panicked(msg)
    });
    let code = if outcome.is_ok() { 0 } else { -1 };
    if let Ok(mut g) = slot.lock() {
        *g = Some(outcome);
    }
    code
}

/// A function running on a worker lcore; [`LcoreHandle::wait`] joins it.
pub struct LcoreHandle {
    lcore: u32,
    slot: Slot,
    _eal: Eal,
    waited: bool,
}

impl Eal {
    /// Runs `f` on worker lcore `lcore` (which must be idle and not the main lcore).
    pub fn launch<F: FnOnce() + Send + 'static>(&self, lcore: u32, f: F) -> Result<LcoreHandle> {
        let slot: Slot = Arc::new(Mutex::new(None));
        let job = Box::new(Job { f: Box::new(f), slot: slot.clone() });
        let arg = Box::into_raw(job) as *mut c_void;
        // SAFETY: trampoline is a valid extern "C" fn taking ownership of arg; the EAL is
        // initialised.
        let ret = unsafe { ffi::rte_eal_remote_launch(Some(trampoline), arg, lcore) };
        if ret != 0 {
            // SAFETY: the launch failed, so the job was never handed over; reclaim it.
            drop(unsafe { Box::from_raw(arg as *mut Job) });
            return Err(DpdkError::from_ret("rte_eal_remote_launch", ret));
        }
        Ok(LcoreHandle { lcore, slot, _eal: self.clone(), waited: false })
    }
}

impl LcoreHandle {
    pub fn lcore(&self) -> u32 {
        self.lcore
    }

    /// Blocks until the function returns; reports a caught panic.
    pub fn wait(mut self) -> std::result::Result<(), LaunchError> {
        self.join()
    }

    fn join(&mut self) -> std::result::Result<(), LaunchError> {
        if !self.waited {
            // SAFETY: called from the main lcore for a lcore we launched.
            unsafe { ffi::rte_eal_wait_lcore(self.lcore) };
            self.waited = true;
        }
        self.slot.lock().ok().and_then(|mut g| g.take()).unwrap_or(Ok(()))
    }
}

impl Drop for LcoreHandle {
    fn drop(&mut self) {
        let _ = self.join();
    }
}

/// The calling thread's lcore id (`u32::MAX` on a non-EAL thread).
#[inline]
pub fn current_lcore() -> u32 {
    // SAFETY: reads a thread-local; no preconditions.
    unsafe { ffi::espgw_lcore_id() }
}

/// The CPU's time-stamp counter.
#[inline(always)]
pub fn tsc() -> u64 {
    // The instruction itself on x86-64 (what rte_rdtsc() compiles to), so the worker loop does
    // not pay a call into the C shim for each timestamp.
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: rdtsc has no preconditions and is present on every x86-64 CPU.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        // SAFETY: rdtsc has no preconditions.
        unsafe { ffi::espgw_rdtsc() }
    }
}

/// TSC ticks per second as measured by the EAL (0 before init).
pub fn tsc_hz() -> u64 {
    // SAFETY: reads a value the EAL computed at init.
    unsafe { ffi::rte_get_tsc_hz() }
}
