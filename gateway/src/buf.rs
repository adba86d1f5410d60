//! The packet buffer the protocol code works on: a byte region that can grow or shrink at
//! both ends, as a DPDK mbuf can (`rte_pktmbuf_prepend/append/adj/trim`). Implemented for
//! [`dpdk_sys::Mbuf`] on the data path and for [`VecBuf`] in tests and on the control path, so
//! ESP encapsulation is tested without DPDK.

/// A contiguous packet with headroom and tailroom. Every method that changes the length returns
/// `false` and leaves the packet unchanged when there is not enough room or data.
pub trait PacketBuf {
    fn data(&self) -> &[u8];
    fn data_mut(&mut self) -> &mut [u8];
    /// Grows the packet by `n` bytes at the front (contents unspecified).
    fn prepend(&mut self, n: usize) -> bool;
    /// Grows the packet by `n` bytes at the end (contents unspecified).
    fn append(&mut self, n: usize) -> bool;
    /// Removes `n` bytes from the front.
    fn adj(&mut self, n: usize) -> bool;
    /// Removes `n` bytes from the end.
    fn trim(&mut self, n: usize) -> bool;
    fn len(&self) -> usize {
        self.data().len()
    }
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl PacketBuf for dpdk_sys::Mbuf {
    #[inline]
    fn data(&self) -> &[u8] {
        dpdk_sys::Mbuf::data(self)
    }
    #[inline]
    fn data_mut(&mut self) -> &mut [u8] {
        dpdk_sys::Mbuf::data_mut(self)
    }
    #[inline]
    fn prepend(&mut self, n: usize) -> bool {
        dpdk_sys::Mbuf::prepend(self, n)
    }
    #[inline]
    fn append(&mut self, n: usize) -> bool {
        self.is_contiguous() && dpdk_sys::Mbuf::append(self, n)
    }
    #[inline]
    fn adj(&mut self, n: usize) -> bool {
        dpdk_sys::Mbuf::adj(self, n)
    }
    #[inline]
    fn trim(&mut self, n: usize) -> bool {
        self.is_contiguous() && dpdk_sys::Mbuf::trim(self, n)
    }
}

/// A heap buffer with fixed headroom and tailroom, for tests and the control path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VecBuf {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl VecBuf {
    /// `data` placed after `headroom` bytes, with `tailroom` bytes free after it.
    pub fn new(data: &[u8], headroom: usize, tailroom: usize) -> VecBuf {
        let mut buf = vec![0u8; headroom + data.len() + tailroom];
        buf[headroom..headroom + data.len()].copy_from_slice(data);
        VecBuf { buf, start: headroom, end: headroom + data.len() }
    }

    /// Room as an mbuf has it by default (128 B headroom, ~2 KB total).
    pub fn like_mbuf(data: &[u8]) -> VecBuf {
        VecBuf::new(data, 128, 2048usize.saturating_sub(data.len()))
    }

    /// Puts `data` back at 128 bytes of headroom, as [`VecBuf::like_mbuf`] would, without
    /// allocating (the buffer must have been made by it, or be as large).
    pub fn reset_like_mbuf(&mut self, data: &[u8]) {
        let end = 128 + data.len();
        if end > self.buf.len() {
            self.buf.resize(end, 0);
        }
        self.buf[128..end].copy_from_slice(data);
        (self.start, self.end) = (128, end);
    }

    pub fn headroom(&self) -> usize {
        self.start
    }
    pub fn tailroom(&self) -> usize {
        self.buf.len() - self.end
    }
}

impl PacketBuf for VecBuf {
    fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }
    fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.end]
    }
    fn prepend(&mut self, n: usize) -> bool {
        if n > self.start {
            return false;
        }
        self.start -= n;
        true
    }
    fn append(&mut self, n: usize) -> bool {
        if n > self.buf.len() - self.end {
            return false;
        }
        self.end += n;
        true
    }
    fn adj(&mut self, n: usize) -> bool {
        if n > self.end - self.start {
            return false;
        }
        self.start += n;
        true
    }
    fn trim(&mut self, n: usize) -> bool {
        if n > self.end - self.start {
            return false;
        }
        self.end -= n;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vecbuf_grows_and_shrinks_within_room_only() {
        let mut b = VecBuf::new(b"abcd", 4, 2);
        assert!(b.prepend(4));
        assert!(!b.prepend(1));
        assert!(b.append(2));
        assert!(!b.append(1));
        assert_eq!(b.len(), 10);
        assert!(b.adj(4));
        assert_eq!(&b.data()[..4], b"abcd");
        assert!(b.trim(2));
        assert_eq!(b.data(), b"abcd");
        assert!(!b.trim(5));
        assert!(!b.adj(5));
    }
}
