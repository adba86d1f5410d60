use std::fmt;

/// An error from a DPDK call: which call failed, and DPDK's own explanation of the errno.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpdkError {
    pub call: &'static str,
    pub errno: i32,
    pub detail: String,
}

pub type Result<T> = std::result::Result<T, DpdkError>;

impl DpdkError {
    /// Builds an error from a negative return code (`-errno`) or, when `ret` is not
    /// negative, from the thread's `rte_errno`.
    pub(crate) fn from_ret(call: &'static str, ret: i32) -> Self {
        let errno = if ret < 0 {
            -ret
        } else {
            // SAFETY: reads the calling thread's rte_errno; no preconditions.
            unsafe { crate::ffi::espgw_errno() }
        };
        Self::new(call, errno)
    }

    pub(crate) fn new(call: &'static str, errno: i32) -> Self {
        // SAFETY: rte_strerror returns a pointer to a static or thread-local NUL-terminated string.
        let p = unsafe { crate::ffi::rte_strerror(errno) };
        let detail = if p.is_null() {
            format!("errno {errno}")
        } else {
            // SAFETY: p is non-null and NUL-terminated per rte_strerror's contract.
            unsafe { std::ffi::CStr::from_ptr(p) }.to_string_lossy().into_owned()
        };
        DpdkError { call, errno, detail }
    }

    pub(crate) fn msg(call: &'static str, detail: impl Into<String>) -> Self {
        DpdkError { call, errno: 0, detail: detail.into() }
    }
}

impl fmt::Display for DpdkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.errno != 0 {
            write!(f, "{} failed: {} (errno {})", self.call, self.detail, self.errno)
        } else {
            write!(f, "{} failed: {}", self.call, self.detail)
        }
    }
}

impl std::error::Error for DpdkError {}
