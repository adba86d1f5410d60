use crate::burst::Burst;
use crate::eal::Eal;
use crate::error::{DpdkError, Result};
use crate::ffi;
use crate::mbuf::Mbuf;
use std::ffi::CString;
use std::os::raw::c_void;
use std::ptr::NonNull;
use std::sync::Arc;

/// A lockless multi-producer / single-consumer ring of mbufs (`rte_ring`, `RING_F_SC_DEQ`).
///
/// Returns a cloneable [`RingProducer`] and the one [`RingConsumer`]. Mbufs still queued when
/// the last handle goes are freed.
pub fn mbuf_ring(eal: &Eal, name: &str, size: u32) -> Result<(RingProducer, RingConsumer)> {
    let c = CString::new(name).map_err(|_| DpdkError::msg("rte_ring_create", "NUL in name"))?;
    let size = size.max(2).next_power_of_two();
    // SAFETY: valid C string; the EAL is initialised; flags select MP enqueue / SC dequeue.
    let p = unsafe { ffi::rte_ring_create(c.as_ptr(), size, -1, ffi::RING_F_SC_DEQ) };
    let ptr = NonNull::new(p).ok_or_else(|| DpdkError::from_ret("rte_ring_create", 0))?;
    let inner = Arc::new(RingInner { ptr, _eal: eal.clone() });
    Ok((RingProducer { inner: inner.clone() }, RingConsumer { inner }))
}

struct RingInner {
    ptr: NonNull<ffi::rte_ring>,
    _eal: Eal,
}

// SAFETY: rte_ring enqueue is multi-producer safe; dequeue is only reachable through the single
// RingConsumer (not Clone), so the SC contract holds.
unsafe impl Send for RingInner {}
// SAFETY: as above.
unsafe impl Sync for RingInner {}

impl Drop for RingInner {
    fn drop(&mut self) {
        let mut tmp: [*mut c_void; 64] = [std::ptr::null_mut(); 64];
        loop {
            // SAFETY: last handle, so no concurrent consumer; tmp has room for 64 pointers.
            let n =
                unsafe { ffi::espgw_ring_sc_dequeue_burst(self.ptr.as_ptr(), tmp.as_mut_ptr(), 64) } as usize;
            if n == 0 {
                break;
            }
            for &m in &tmp[..n] {
                // SAFETY: the ring only ever holds owned mbuf pointers put there by RingProducer.
                unsafe { ffi::espgw_pktmbuf_free(m as *mut ffi::rte_mbuf) };
            }
        }
        // SAFETY: the ring is empty and no handle refers to it any more.
        unsafe { ffi::rte_ring_free(self.ptr.as_ptr()) };
    }
}

/// The enqueue side; any number of threads may hold a clone.
#[derive(Clone)]
pub struct RingProducer {
    inner: Arc<RingInner>,
}

impl RingProducer {
    /// Moves as many mbufs from the front of `burst` into the ring as fit; returns how many.
    #[inline]
    pub fn enqueue_burst(&self, burst: &mut Burst) -> usize {
        let (p, len) = burst.filled_raw();
        if len == 0 {
            return 0;
        }
        // SAFETY: MP-safe enqueue of len owned mbuf pointers.
        let n = unsafe {
            ffi::espgw_ring_mp_enqueue_burst(self.inner.ptr.as_ptr(), p as *const *mut c_void, len as u32)
        } as usize;
        // SAFETY: the ring now owns the first n mbufs.
        unsafe { burst.consumed_front(n) };
        n
    }

    /// Enqueues one mbuf, or gives it back when the ring is full.
    pub fn enqueue(&self, m: Mbuf) -> std::result::Result<(), Mbuf> {
        let raw = m.into_raw();
        let arr = [raw as *mut c_void];
        // SAFETY: MP-safe enqueue of one owned pointer.
        let n = unsafe { ffi::espgw_ring_mp_enqueue_burst(self.inner.ptr.as_ptr(), arr.as_ptr(), 1) };
        if n == 1 {
            Ok(())
        } else {
            // SAFETY: not enqueued, so we still own it.
            Err(unsafe { Mbuf::from_raw(NonNull::new_unchecked(raw)) })
        }
    }

    /// Entries currently queued.
    pub fn count(&self) -> u32 {
        // SAFETY: valid ring; read-only.
        unsafe { ffi::espgw_ring_count(self.inner.ptr.as_ptr()) }
    }
}

/// The single dequeue side. `Send`, not `Clone`.
pub struct RingConsumer {
    inner: Arc<RingInner>,
}

impl RingConsumer {
    /// Dequeues up to `max` mbufs onto the end of `burst`; returns how many.
    #[inline]
    pub fn dequeue_burst(&mut self, burst: &mut Burst, max: usize) -> usize {
        let (p, room) = burst.spare_raw();
        let n = room.min(max) as u32;
        if n == 0 {
            return 0;
        }
        // SAFETY: sole consumer (this handle is unique); p has room for n pointers.
        let got =
            unsafe { ffi::espgw_ring_sc_dequeue_burst(self.inner.ptr.as_ptr(), p as *mut *mut c_void, n) }
                as usize;
        // SAFETY: got slots now hold owned mbufs.
        unsafe { burst.commit(got) };
        got
    }

    pub fn count(&self) -> u32 {
        // SAFETY: valid ring; read-only.
        unsafe { ffi::espgw_ring_count(self.inner.ptr.as_ptr()) }
    }
}
