use crate::eal::Eal;
use crate::error::{DpdkError, Result};
use crate::ffi;
use crate::mbuf::Mbuf;
use std::ffi::CString;
use std::ptr::NonNull;
use std::sync::Arc;

/// A pool of packet buffers (`rte_pktmbuf_pool_create`). Shared by reference counting;
/// freed when the last handle goes (after every mbuf taken from it has been returned).
#[derive(Clone)]
pub struct Mempool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    ptr: NonNull<ffi::rte_mempool>,
    _eal: Eal,
}

// SAFETY: an rte_mempool is designed for concurrent get/put from many threads (lockless ring
// plus per-lcore caches); the handle only passes the pointer to those thread-safe functions.
unsafe impl Send for PoolInner {}
// SAFETY: as above: all operations through &Mempool are thread-safe in DPDK.
unsafe impl Sync for PoolInner {}

impl Mempool {
    /// Creates a pool of `count` mbufs of DPDK's default buffer size (2048 B + headroom) with a
    /// per-lcore cache of `cache` entries on NUMA socket `socket` (-1: any).
    pub fn new(eal: &Eal, name: &str, count: u32, cache: u32, socket: i32) -> Result<Mempool> {
        let cname =
            CString::new(name).map_err(|_| DpdkError::msg("rte_pktmbuf_pool_create", "NUL in name"))?;
        let data_room = (ffi::RTE_MBUF_DEFAULT_BUF_SIZE) as u16;
        // SAFETY: cname is a valid C string for the duration of the call; the EAL is initialised.
        let p = unsafe { ffi::rte_pktmbuf_pool_create(cname.as_ptr(), count, cache, 0, data_room, socket) };
        let ptr = NonNull::new(p).ok_or_else(|| DpdkError::from_ret("rte_pktmbuf_pool_create", 0))?;
        Ok(Mempool { inner: Arc::new(PoolInner { ptr, _eal: eal.clone() }) })
    }

    /// Takes one mbuf (empty, data offset at the default headroom), or `None` if the pool is dry.
    pub fn alloc(&self) -> Option<Mbuf> {
        // SAFETY: the pool pointer is valid while self lives; alloc is thread-safe.
        let m = unsafe { ffi::espgw_pktmbuf_alloc(self.inner.ptr.as_ptr()) };
        // SAFETY: a non-null result is a freshly allocated mbuf we now own exclusively.
        NonNull::new(m).map(|p| unsafe { Mbuf::from_raw(p) })
    }

    /// Mbufs currently free in the pool (approximate under concurrency).
    pub fn available(&self) -> u32 {
        // SAFETY: valid pool; a read-only count.
        unsafe { ffi::rte_mempool_avail_count(self.inner.ptr.as_ptr()) }
    }

    /// Mbufs currently taken from the pool (approximate under concurrency).
    pub fn in_use(&self) -> u32 {
        // SAFETY: valid pool; a read-only count.
        unsafe { ffi::rte_mempool_in_use_count(self.inner.ptr.as_ptr()) }
    }

    pub(crate) fn as_ptr(&self) -> *mut ffi::rte_mempool {
        self.inner.ptr.as_ptr()
    }
}

impl Drop for PoolInner {
    fn drop(&mut self) {
        // SAFETY: last handle; no queue references the pool any more (ports hold a Mempool clone).
        unsafe { ffi::rte_mempool_free(self.ptr.as_ptr()) };
    }
}
