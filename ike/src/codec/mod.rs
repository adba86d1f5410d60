//! IKEv2 message codec (RFC 7296 §3, RFC 7383 for SKF).
//!
//! Two layers, in the smoltcp / rustls manner:
//!
//! * zero-copy views: [`header::Packet`] reads the fixed 28-byte header in place (enough to find
//!   the IKE SA and check the message ID before anything is allocated), and
//!   [`payload::PayloadIter`] walks a payload chain yielding borrowed [`payload::RawPayload`]s;
//! * owned representations: [`Message`] (a [`Header`] plus a `Vec<`[`Payload`]`>`) and one struct
//!   per payload body, each with `decode` from the body bytes and `encode` into a [`Writer`].
//!
//! Contract: no parsing function panics on any input; every length on the wire is checked
//! against the bytes actually present before it is used. A message that parses re-encodes to
//! the same bytes, as long as it was valid (reserved fields zero, as RFC 7296 requires of
//! senders; receivers ignore them, and so does the decoder). Errors carry the notify type an
//! IKE responder answers with ([`Error::notify`]).
//!
//! [`Message::parse`] is the single entry point for untrusted datagrams (and for fuzzing).

pub mod cp;
pub mod delete;
pub mod header;
pub mod id;
pub mod message;
pub mod notify;
pub mod payload;
pub mod registry;
pub mod sa;
pub mod sk;
pub mod ts;

pub use header::{Flags, Header};
pub use message::Message;
pub use payload::Payload;
pub use registry::*;

use core::fmt;

/// What was wrong with the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A field or a length runs past the end of the data.
    Truncated,
    /// A length field disagrees with the data (too small for its fixed part, or bytes left over).
    BadLength,
    /// The header's major version is not 2; carries the version seen.
    InvalidMajorVersion(u8),
    /// A payload type we do not know, with the critical bit set (RFC 7296 §2.5).
    UnsupportedCriticalPayload(PayloadType),
    /// A field holds a value the RFC forbids (e.g. a substructure "last" marker, a nonce size,
    /// an address of the wrong length, a count that does not match).
    InvalidValue,
    /// A payload where it may not be (SK inside SK, SK not last).
    Misplaced,
    /// Encoding only: a length does not fit its field.
    TooLong,
}

/// A codec error: the kind and the structure being parsed when it happened.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    /// Which structure was being parsed ("header", "proposal", "TSi", ...), for logs.
    pub context: &'static str,
}

impl Error {
    pub const fn new(kind: ErrorKind, context: &'static str) -> Error {
        Error { kind, context }
    }

    /// The notify type to answer with (RFC 7296 §2.21, §3.10.1).
    pub const fn notify(&self) -> NotifyType {
        match self.kind {
            ErrorKind::InvalidMajorVersion(_) => NotifyType::INVALID_MAJOR_VERSION,
            ErrorKind::UnsupportedCriticalPayload(_) => NotifyType::UNSUPPORTED_CRITICAL_PAYLOAD,
            _ => NotifyType::INVALID_SYNTAX,
        }
    }

    /// The Notification Data that goes with [`Error::notify`]: UNSUPPORTED_CRITICAL_PAYLOAD
    /// carries the one-octet payload type, the others carry nothing.
    pub fn notify_data(&self) -> Vec<u8> {
        match self.kind {
            ErrorKind::UnsupportedCriticalPayload(t) => vec![t.0],
            _ => Vec::new(),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} in {}", self.kind, self.context)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed IKE message: {:?} in {}", self.kind, self.context)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = core::result::Result<T, Error>;

/// A cursor over borrowed bytes; every read is bounds-checked and names its context on error.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    context: &'static str,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], context: &'static str) -> Reader<'a> {
        Reader { buf, pos: 0, context }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub fn error(&self, kind: ErrorKind) -> Error {
        Error::new(kind, self.context)
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.error(ErrorKind::Truncated));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// Everything not yet read.
    pub fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos..];
        self.pos = self.buf.len();
        s
    }

    /// A reader over the next `len` bytes (a length-prefixed substructure), advancing past them.
    pub fn sub(&mut self, len: usize, context: &'static str) -> Result<Reader<'a>> {
        Ok(Reader::new(self.take(len)?, context))
    }

    /// Fails with `BadLength` unless everything was consumed.
    pub fn expect_end(&self) -> Result<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.error(ErrorKind::BadLength))
        }
    }
}

/// An append-only output buffer with back-patched length fields. A length that does not fit
/// its field is remembered and reported by [`Writer::finish`], so encoders stay infallible.
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
    overflow: bool,
}

/// A 16-bit length field to patch once the structure it measures is written.
#[must_use]
pub struct LenMark {
    field: usize,
    start: usize,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub fn u16(&mut self, v: u16) {
        self.bytes(&v.to_be_bytes());
    }

    pub fn u32(&mut self, v: u32) {
        self.bytes(&v.to_be_bytes());
    }

    pub fn u64(&mut self, v: u64) {
        self.bytes(&v.to_be_bytes());
    }

    pub fn zeros(&mut self, n: usize) {
        self.buf.resize(self.buf.len() + n, 0);
    }

    /// Writes a placeholder u16 length whose measured structure starts at `start` (an earlier
    /// [`Writer::len`]), to be filled in by [`Writer::patch_len`].
    pub fn len16_from(&mut self, start: usize) -> LenMark {
        let field = self.buf.len();
        self.u16(0);
        LenMark { field, start }
    }

    pub fn patch_len(&mut self, mark: LenMark) {
        let n = self.buf.len() - mark.start;
        let v = match u16::try_from(n) {
            Ok(v) => v,
            Err(_) => {
                self.overflow = true;
                0
            }
        };
        self.buf[mark.field..mark.field + 2].copy_from_slice(&v.to_be_bytes());
    }

    /// Counts that must fit a narrower field than the caller's `usize`.
    pub fn count_u8(&mut self, n: usize) {
        match u8::try_from(n) {
            Ok(v) => self.u8(v),
            Err(_) => {
                self.overflow = true;
                self.u8(0)
            }
        }
    }

    pub fn count_u16(&mut self, n: usize) {
        match u16::try_from(n) {
            Ok(v) => self.u16(v),
            Err(_) => {
                self.overflow = true;
                self.u16(0)
            }
        }
    }

    pub(crate) fn mark_overflow(&mut self) {
        self.overflow = true;
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    pub fn finish(self) -> Result<Vec<u8>> {
        if self.overflow {
            Err(Error::new(ErrorKind::TooLong, "encode"))
        } else {
            Ok(self.buf)
        }
    }
}

#[cfg(test)]
pub(crate) mod test_util;

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn reader_bounds() {
        let mut r = Reader::new(&[1, 2, 3, 4, 5], "t");
        assert_eq!(r.u16().unwrap(), 0x0102);
        assert_eq!(r.u32().unwrap_err().kind, ErrorKind::Truncated);
        let mut s = r.sub(2, "s").unwrap();
        assert_eq!(s.u8().unwrap(), 3);
        assert_eq!(s.expect_end().unwrap_err().kind, ErrorKind::BadLength);
        assert_eq!(r.rest(), &[5]);
        assert!(r.take(1).is_err());
    }

    #[test]
    fn writer_length_overflow_is_reported() {
        let mut w = Writer::new();
        let m = w.len16_from(0);
        w.zeros(70_000);
        w.patch_len(m);
        assert_eq!(w.finish().unwrap_err().kind, ErrorKind::TooLong);
        let mut w = Writer::new();
        w.count_u8(256);
        assert!(w.finish().is_err());
    }

    #[test]
    fn errors_map_to_notify_types() {
        let e = Error::new(ErrorKind::UnsupportedCriticalPayload(PayloadType(200)), "chain");
        assert_eq!(e.notify(), NotifyType::UNSUPPORTED_CRITICAL_PAYLOAD);
        assert_eq!(e.notify_data(), vec![200]);
        assert_eq!(
            Error::new(ErrorKind::InvalidMajorVersion(3), "h").notify(),
            NotifyType::INVALID_MAJOR_VERSION
        );
        assert_eq!(Error::new(ErrorKind::Truncated, "h").notify(), NotifyType::INVALID_SYNTAX);
        assert!(Error::new(ErrorKind::Truncated, "h").notify_data().is_empty());
    }
}
