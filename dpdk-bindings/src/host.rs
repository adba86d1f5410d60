//! The host side of the exception path: Linux TUN devices (one per VTI that a routing
//! daemon peers over) and a netlink dump of the kernel's routing table (where the daemon puts
//! what it learned). Control-thread only, never on the packet path; plain Linux system
//! calls, not DPDK, kept here because this crate holds all of espgw's `unsafe`.

use std::ffi::CString;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// `struct ifreq`: the interface name, then a 24-byte union (flags, an address, an MTU).
#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    data: [u8; 24],
}

impl IfReq {
    fn new(name: &str) -> io::Result<IfReq> {
        let b = name.as_bytes();
        if b.is_empty() || b.len() >= libc::IFNAMSIZ || b.contains(&0) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "interface name: 1-15 bytes"));
        }
        let mut r = IfReq { name: [0; libc::IFNAMSIZ], data: [0; 24] };
        r.name[..b.len()].copy_from_slice(b);
        Ok(r)
    }

    fn set_short(&mut self, v: i16) {
        self.data[..2].copy_from_slice(&v.to_ne_bytes());
    }

    fn short(&self) -> i16 {
        i16::from_ne_bytes([self.data[0], self.data[1]])
    }

    fn set_int(&mut self, v: i32) {
        self.data[..4].copy_from_slice(&v.to_ne_bytes());
    }

    /// A `struct sockaddr_in` with `a` (port 0).
    fn set_ipv4(&mut self, a: Ipv4Addr) {
        self.data = [0; 24];
        self.data[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        self.data[4..8].copy_from_slice(&a.octets());
    }
}

fn ioctl(fd: &OwnedFd, req: libc::Ioctl, r: &mut IfReq) -> io::Result<()> {
    // SAFETY: `r` is a live, properly sized `struct ifreq` (40 bytes, repr(C)) that the kernel
    // reads and may write for these interface requests; `fd` is an open descriptor.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), req, r as *mut IfReq) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn socket(domain: i32, ty: i32, proto: i32) -> io::Result<OwnedFd> {
    // SAFETY: socket(2) takes no pointers; a non-negative result is a new descriptor we own.
    let fd = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, proto) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just returned by socket(2) and is owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A layer 3 TUN interface (no packet-information header): whole IP packets each way.
/// Non-blocking; closed (and the interface gone) on drop.
#[derive(Debug)]
pub struct Tun {
    fd: OwnedFd,
    name: String,
    ifindex: u32,
}

impl Tun {
    /// Creates TUN interface `name` in the current network namespace (needs CAP_NET_ADMIN).
    pub fn create(name: &str) -> io::Result<Tun> {
        let path = CString::new("/dev/net/tun").map_err(io::Error::other)?;
        // SAFETY: path is a valid NUL-terminated string; open(2) returns a new descriptor.
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd was just returned by open(2) and is owned by no one else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut r = IfReq::new(name)?;
        r.set_short((libc::IFF_TUN | libc::IFF_NO_PI) as i16);
        ioctl(&fd, libc::TUNSETIFF, &mut r)?;
        let cname = CString::new(name).map_err(io::Error::other)?;
        // SAFETY: cname is a valid NUL-terminated string.
        let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) };
        if ifindex == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Tun { fd, name: name.to_owned(), ifindex })
    }

    /// Gives the interface `addr/prefix_len` and `mtu`, and brings it up.
    pub fn configure_ipv4(&self, addr: Ipv4Addr, prefix_len: u8, mtu: u16) -> io::Result<()> {
        let s = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
        let mut r = IfReq::new(&self.name)?;
        r.set_ipv4(addr);
        ioctl(&s, libc::SIOCSIFADDR, &mut r)?;
        let mask = if prefix_len == 0 { 0 } else { u32::MAX << (32 - prefix_len.min(32)) };
        r.set_ipv4(Ipv4Addr::from(mask));
        ioctl(&s, libc::SIOCSIFNETMASK, &mut r)?;
        r.data = [0; 24];
        r.set_int(i32::from(mtu));
        ioctl(&s, libc::SIOCSIFMTU, &mut r)?;
        r.data = [0; 24];
        ioctl(&s, libc::SIOCGIFFLAGS, &mut r)?;
        let flags = r.short() | (libc::IFF_UP | libc::IFF_RUNNING) as i16;
        r.set_short(flags);
        ioctl(&s, libc::SIOCSIFFLAGS, &mut r)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// One packet the host sent out of the interface, or `None` when there is none now.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        // SAFETY: buf is valid for writes of buf.len() bytes; fd is open.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::WouldBlock { Ok(None) } else { Err(e) };
        }
        Ok(Some(n as usize))
    }

    /// Hands one IP packet to the host as if it arrived on the interface.
    pub fn send(&self, packet: &[u8]) -> io::Result<()> {
        // SAFETY: packet is valid for reads of packet.len() bytes; fd is open.
        let n = unsafe { libc::write(self.fd.as_raw_fd(), packet.as_ptr().cast(), packet.len()) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// Dumps the kernel's IPv4 routes (every table) over rtnetlink: the raw `RTM_NEWROUTE`
/// messages, back to back, as the kernel sent them (parsing is the caller's, in safe code).
pub fn dump_ipv4_routes() -> io::Result<Vec<u8>> {
    let s = socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE)?;
    // nlmsghdr (16) + rtmsg (12): RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, family AF_INET.
    let mut req = [0u8; 28];
    req[..4].copy_from_slice(&28u32.to_ne_bytes());
    req[4..6].copy_from_slice(&libc::RTM_GETROUTE.to_ne_bytes());
    req[6..8].copy_from_slice(&((libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16).to_ne_bytes());
    req[8..12].copy_from_slice(&1u32.to_ne_bytes());
    req[16] = libc::AF_INET as u8;
    // SAFETY: a zeroed sockaddr_nl with the family set addresses the kernel (pid 0).
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as u16;
    // SAFETY: req and addr are valid for the lengths given; s is an open netlink socket.
    let n = unsafe {
        libc::sendto(
            s.as_raw_fd(),
            req.as_ptr().cast(),
            req.len(),
            0,
            (&addr as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut all = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        // SAFETY: buf is valid for writes of buf.len() bytes; s is open (blocking).
        let n = unsafe { libc::recv(s.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let chunk = &buf[..n as usize];
        // Walk the headers only to find the end of the dump (NLMSG_DONE) or an error.
        let mut off = 0;
        while off + 16 <= chunk.len() {
            let len =
                u32::from_ne_bytes([chunk[off], chunk[off + 1], chunk[off + 2], chunk[off + 3]]) as usize;
            let ty = u16::from_ne_bytes([chunk[off + 4], chunk[off + 5]]);
            if len < 16 || off + len > chunk.len() {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "netlink: bad message length"));
            }
            if ty == libc::NLMSG_DONE as u16 {
                all.extend_from_slice(&chunk[..off]);
                return Ok(all);
            }
            if ty == libc::NLMSG_ERROR as u16 {
                return Err(io::Error::other("netlink: route dump refused"));
            }
            off += (len + 3) & !3;
        }
        all.extend_from_slice(chunk);
    }
}

/// Notifications of changes to the kernel's IPv4 routes (rtnetlink group `RTNLGRP_IPV4_ROUTE`),
/// so that the table is dumped again only when something changed.
#[derive(Debug)]
pub struct RouteMonitor {
    fd: OwnedFd,
}

impl RouteMonitor {
    pub fn new() -> io::Result<RouteMonitor> {
        let fd = socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_NONBLOCK, libc::NETLINK_ROUTE)?;
        // SAFETY: a zeroed sockaddr_nl with family and group mask set is a valid bind address.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as u16;
        addr.nl_groups = 1 << (libc::RTNLGRP_IPV4_ROUTE - 1);
        // SAFETY: addr is valid for its size; fd is an open netlink socket.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(RouteMonitor { fd })
    }

    /// Whether any route changed since the last call (drains the pending notifications). A
    /// lost notification (the socket's buffer overflowed) counts as a change.
    pub fn changed(&self) -> bool {
        let mut buf = [0u8; 8192];
        let mut any = false;
        loop {
            // SAFETY: buf is valid for writes of its length; fd is open and non-blocking.
            let n = unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n > 0 {
                any = true;
                continue;
            }
            if n < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOBUFS) {
                any = true;
                continue;
            }
            return any;
        }
    }
}
