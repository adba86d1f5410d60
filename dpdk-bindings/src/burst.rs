use crate::ffi;
use crate::mbuf::Mbuf;
use std::mem::MaybeUninit;

/// The largest burst a [`Burst`] holds.
pub const MAX_BURST: usize = 256;

/// A fixed-capacity array of owned mbufs, laid out as DPDK's `struct rte_mbuf *[]`.
///
/// Elements `0..len` are initialised, owned mbufs. Dropping or [`Burst::clear`]ing frees them
/// all with one `rte_pktmbuf_free_bulk`. No heap allocation: a burst lives on the stack or
/// inside a worker's state.
pub struct Burst {
    len: usize,
    pkts: [MaybeUninit<Mbuf>; MAX_BURST],
}

impl Default for Burst {
    fn default() -> Self {
        Self::new()
    }
}

impl Burst {
    pub const fn new() -> Burst {
        Burst { len: 0, pkts: [const { MaybeUninit::uninit() }; MAX_BURST] }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    #[inline]
    pub fn is_full(&self) -> bool {
        self.len == MAX_BURST
    }
    #[inline]
    pub fn room(&self) -> usize {
        MAX_BURST - self.len
    }

    /// Appends `m`; gives it back when the burst is full.
    #[inline]
    pub fn push(&mut self, m: Mbuf) -> Result<(), Mbuf> {
        if self.len == MAX_BURST {
            return Err(m);
        }
        self.pkts[self.len].write(m);
        self.len += 1;
        Ok(())
    }

    /// Removes and returns the last mbuf.
    #[inline]
    pub fn pop(&mut self) -> Option<Mbuf> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        // SAFETY: index len (old len - 1) was initialised and is now outside 0..len, so ownership
        // moves out exactly once.
        Some(unsafe { self.pkts[self.len].assume_init_read() })
    }

    /// The initialised mbufs.
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [Mbuf] {
        // SAFETY: 0..len are initialised; MaybeUninit<Mbuf> has Mbuf's layout.
        unsafe { std::slice::from_raw_parts_mut(self.pkts.as_mut_ptr() as *mut Mbuf, self.len) }
    }

    /// The initialised mbufs, read-only.
    #[inline]
    pub fn as_slice(&self) -> &[Mbuf] {
        // SAFETY: 0..len are initialised; MaybeUninit<Mbuf> has Mbuf's layout.
        unsafe { std::slice::from_raw_parts(self.pkts.as_ptr() as *const Mbuf, self.len) }
    }

    /// Moves every mbuf out, in order, leaving the burst empty. Mbufs not consumed from the
    /// iterator are freed when it is dropped.
    pub fn drain(&mut self) -> Drain<'_> {
        let len = self.len;
        self.len = 0;
        Drain { burst: self, next: 0, end: len }
    }

    /// Frees every mbuf with one bulk call.
    pub fn clear(&mut self) {
        if self.len == 0 {
            return;
        }
        let n = self.len as u32;
        self.len = 0;
        // SAFETY: the first n slots are owned mbuf pointers (repr(transparent)); len is reset
        // first so they are never touched again.
        unsafe { ffi::rte_pktmbuf_free_bulk(self.pkts.as_mut_ptr() as *mut *mut ffi::rte_mbuf, n) };
    }

    /// Raw array for DPDK burst calls: pointer to the first free slot and its capacity.
    pub(crate) fn spare_raw(&mut self) -> (*mut *mut ffi::rte_mbuf, usize) {
        // SAFETY: len <= MAX_BURST, so the pointer stays within (or one past) the array.
        let p = unsafe { (self.pkts.as_mut_ptr() as *mut *mut ffi::rte_mbuf).add(self.len) };
        (p, MAX_BURST - self.len)
    }

    /// # Safety
    /// The `n` slots after `len` must have been filled with owned, valid mbuf pointers.
    pub(crate) unsafe fn commit(&mut self, n: usize) {
        debug_assert!(self.len + n <= MAX_BURST);
        self.len += n;
    }

    /// Raw array of the owned mbufs, for DPDK calls that consume a prefix.
    pub(crate) fn filled_raw(&mut self) -> (*mut *mut ffi::rte_mbuf, usize) {
        (self.pkts.as_mut_ptr() as *mut *mut ffi::rte_mbuf, self.len)
    }

    /// Forgets the first `n` mbufs (ownership passed to DPDK) and moves the rest to the front.
    ///
    /// # Safety
    /// The first `n` mbufs must have been handed over (e.g. accepted by tx_burst).
    pub(crate) unsafe fn consumed_front(&mut self, n: usize) {
        debug_assert!(n <= self.len);
        let rest = self.len - n;
        if rest > 0 && n > 0 {
            let base = self.pkts.as_mut_ptr();
            // SAFETY: both ranges lie inside the array; ptr::copy handles the overlap, and the
            // moved-from slots n..len are treated as uninitialised afterwards (len = rest).
            unsafe { std::ptr::copy(base.add(n), base, rest) };
        }
        self.len = rest;
    }
}

impl Drop for Burst {
    fn drop(&mut self) {
        self.clear();
    }
}

/// Iterator returned by [`Burst::drain`].
pub struct Drain<'a> {
    burst: &'a mut Burst,
    next: usize,
    end: usize,
}

impl Iterator for Drain<'_> {
    type Item = Mbuf;
    #[inline]
    fn next(&mut self) -> Option<Mbuf> {
        if self.next == self.end {
            return None;
        }
        let i = self.next;
        self.next += 1;
        // SAFETY: slots next..end are initialised and owned by the iterator (the burst's len was
        // reset to 0); each is read exactly once.
        Some(unsafe { self.burst.pkts[i].assume_init_read() })
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.end - self.next, Some(self.end - self.next))
    }
}

impl Drop for Drain<'_> {
    fn drop(&mut self) {
        for _ in self.by_ref() {}
    }
}
