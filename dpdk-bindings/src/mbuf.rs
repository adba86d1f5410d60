use crate::ffi;
use std::fmt;
use std::ptr::NonNull;

/// One owned packet buffer (`struct rte_mbuf`).
///
/// `#[repr(transparent)]` over a non-null pointer, so a slice of `Mbuf` has the layout of the
/// `struct rte_mbuf *` arrays DPDK's burst functions take. Not `Clone`: exactly one owner;
/// dropping it returns it to its pool. Only single-segment packets are exposed as slices
/// (`data`, `data_mut`); [`Mbuf::is_contiguous`] tells whether a packet is one.
#[repr(transparent)]
pub struct Mbuf(NonNull<ffi::rte_mbuf>);

// SAFETY: an mbuf has one owner at a time (this handle); moving ownership to another thread
// is how DPDK pipelines work (rings hand mbufs between lcores).
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// # Safety
    /// `p` must point to a valid mbuf that the caller owns exclusively and hands over.
    pub(crate) unsafe fn from_raw(p: NonNull<ffi::rte_mbuf>) -> Mbuf {
        Mbuf(p)
    }

    /// Gives up ownership without freeing.
    pub(crate) fn into_raw(self) -> *mut ffi::rte_mbuf {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }

    fn raw(&self) -> &ffi::rte_mbuf {
        // SAFETY: we own a valid mbuf; shared access through &self.
        unsafe { self.0.as_ref() }
    }

    /// Bytes in the first (or only) segment.
    #[inline]
    pub fn data_len(&self) -> usize {
        self.raw().data_len as usize
    }

    /// Total packet length over all segments.
    #[inline]
    pub fn pkt_len(&self) -> usize {
        self.raw().pkt_len as usize
    }

    /// True when the whole packet is in one segment.
    #[inline]
    pub fn is_contiguous(&self) -> bool {
        self.raw().nb_segs == 1
    }

    /// The input port (set by RX), or whatever was last stored with [`Mbuf::set_port`].
    #[inline]
    pub fn port(&self) -> u16 {
        self.raw().port
    }

    /// Stores a port id in the mbuf's metadata (used to tag packets handed between threads).
    #[inline]
    pub fn set_port(&mut self, port: u16) {
        // SAFETY: exclusive access through &mut self.
        unsafe { self.0.as_mut() }.port = port;
    }

    /// The first segment's bytes.
    #[inline]
    pub fn data(&self) -> &[u8] {
        let m = self.raw();
        // SAFETY: buf_addr + data_off .. + data_len lies inside the mbuf's buffer (DPDK
        // invariant maintained by every mbuf operation); we own the mbuf.
        unsafe {
            std::slice::from_raw_parts(
                (m.buf_addr as *const u8).add(m.data_off as usize),
                m.data_len as usize,
            )
        }
    }

    /// The first segment's bytes, writable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        // SAFETY: exclusive access through &mut self.
        let m = unsafe { self.0.as_mut() };
        // SAFETY: as in `data`, and &mut self guarantees no other view exists.
        unsafe {
            std::slice::from_raw_parts_mut(
                (m.buf_addr as *mut u8).add(m.data_off as usize),
                m.data_len as usize,
            )
        }
    }

    /// Free space before the data.
    #[inline]
    pub fn headroom(&self) -> usize {
        // rte_pktmbuf_headroom: the data offset into the buffer.
        self.raw().data_off as usize
    }

    /// Free space after the data (in the last segment).
    #[inline]
    pub fn tailroom(&self) -> usize {
        let m = self.raw();
        if m.nb_segs == 1 {
            // rte_pktmbuf_tailroom on the only segment: buf_len - headroom - data_len.
            (m.buf_len as usize).saturating_sub(m.data_off as usize + m.data_len as usize)
        } else {
            // SAFETY: valid owned mbuf.
            unsafe { ffi::espgw_pktmbuf_tailroom(self.0.as_ptr()) as usize }
        }
    }

    /// Grows the packet at the front by `len` bytes; returns false (packet unchanged) when the
    /// headroom is too small.
    #[inline]
    pub fn prepend(&mut self, len: usize) -> bool {
        let Ok(len) = u16::try_from(len) else { return false };
        // SAFETY: exclusive access through &mut self to a valid owned mbuf.
        let m = unsafe { self.0.as_mut() };
        // rte_pktmbuf_prepend, inline: the first segment's fields only (any segment count).
        if len > m.data_off {
            return false;
        }
        m.data_off -= len;
        m.data_len = m.data_len.wrapping_add(len);
        m.pkt_len = m.pkt_len.wrapping_add(u32::from(len));
        true
    }

    /// Grows the packet at the end by `len` bytes (contents unspecified); false when the
    /// tailroom is too small.
    #[inline]
    pub fn append(&mut self, len: usize) -> bool {
        let Ok(len) = u16::try_from(len) else { return false };
        // SAFETY: exclusive access through &mut self to a valid owned mbuf.
        let m = unsafe { self.0.as_mut() };
        if m.nb_segs != 1 {
            // SAFETY: valid owned mbuf; DPDK checks the tailroom and returns NULL if short.
            return !unsafe { ffi::espgw_pktmbuf_append(self.0.as_ptr(), len) }.is_null();
        }
        // rte_pktmbuf_append on a single segment, inline.
        let end = u32::from(m.data_off) + u32::from(m.data_len) + u32::from(len);
        if end > u32::from(m.buf_len) {
            return false;
        }
        m.data_len += len;
        m.pkt_len = m.pkt_len.wrapping_add(u32::from(len));
        true
    }

    /// Removes `len` bytes from the front; false (unchanged) when the first segment is shorter.
    #[inline]
    pub fn adj(&mut self, len: usize) -> bool {
        let Ok(len) = u16::try_from(len) else { return false };
        // SAFETY: exclusive access through &mut self to a valid owned mbuf.
        let m = unsafe { self.0.as_mut() };
        // rte_pktmbuf_adj, inline: the first segment's fields only (any segment count).
        if len > m.data_len {
            return false;
        }
        m.data_len -= len;
        m.data_off += len;
        m.pkt_len = m.pkt_len.wrapping_sub(u32::from(len));
        true
    }

    /// Removes `len` bytes from the end; false (unchanged) when the last segment is shorter.
    #[inline]
    pub fn trim(&mut self, len: usize) -> bool {
        let Ok(len) = u16::try_from(len) else { return false };
        // SAFETY: exclusive access through &mut self to a valid owned mbuf.
        let m = unsafe { self.0.as_mut() };
        if m.nb_segs != 1 {
            // SAFETY: valid owned mbuf; DPDK checks the last segment's length.
            return unsafe { ffi::espgw_pktmbuf_trim(self.0.as_ptr(), len) == 0 };
        }
        // rte_pktmbuf_trim on a single segment, inline.
        if len > m.data_len {
            return false;
        }
        m.data_len -= len;
        m.pkt_len = m.pkt_len.wrapping_sub(u32::from(len));
        true
    }
}

impl Drop for Mbuf {
    fn drop(&mut self) {
        // SAFETY: we own the mbuf; freeing returns it (and any chained segments) to its pool.
        unsafe { ffi::espgw_pktmbuf_free(self.0.as_ptr()) };
    }
}

impl fmt::Debug for Mbuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mbuf").field("port", &self.port()).field("pkt_len", &self.pkt_len()).finish()
    }
}
