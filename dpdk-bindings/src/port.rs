use crate::burst::Burst;
use crate::eal::Eal;
use crate::error::{DpdkError, Result};
use crate::ffi;
use crate::mempool::Mempool;
use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// How to bring a port up.
#[derive(Debug, Clone)]
pub struct PortConfig {
    pub rx_queues: u16,
    pub tx_queues: u16,
    pub rx_desc: u16,
    pub tx_desc: u16,
    /// Requested MTU (L3 bytes); `None` keeps the device default.
    pub mtu: Option<u16>,
    /// Accept every unicast address (needed on af_packet/tap ports shared with a kernel host).
    pub promiscuous: bool,
}

impl Default for PortConfig {
    fn default() -> Self {
        PortConfig { rx_queues: 1, tx_queues: 1, rx_desc: 1024, tx_desc: 1024, mtu: None, promiscuous: true }
    }
}

/// Link state as reported by the PMD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkStatus {
    pub up: bool,
    pub speed_mbps: u32,
    pub full_duplex: bool,
}

/// Basic device counters (`rte_eth_stats`), with per-queue packet counts for the first 16 queues.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortStats {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_missed: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_nombuf: u64,
    pub rx_queue_packets: Vec<u64>,
    pub tx_queue_packets: Vec<u64>,
}

/// One extended statistic (`rte_eth_xstats_get`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XStat {
    pub name: String,
    pub value: u64,
}

/// An Ethernet port. Cloneable handle; the device is stopped and closed when the last handle
/// (including queue handles) goes away.
#[derive(Clone)]
pub struct Port {
    inner: Arc<PortInner>,
}

struct PortInner {
    id: u16,
    name: String,
    rx_taken: Vec<AtomicBool>,
    tx_taken: Vec<AtomicBool>,
    started: AtomicBool,
    _pool: Mempool,
    _eal: Eal,
}

impl Port {
    /// Port id of the device named `name` (a vdev name such as `net_af_packet0`, or a PCI address).
    pub fn id_by_name(_eal: &Eal, name: &str) -> Result<u16> {
        let c =
            CString::new(name).map_err(|_| DpdkError::msg("rte_eth_dev_get_port_by_name", "NUL in name"))?;
        let mut id: u16 = 0;
        // SAFETY: c is a valid C string; id is a valid out-pointer; the EAL is initialised.
        let ret = unsafe { ffi::rte_eth_dev_get_port_by_name(c.as_ptr(), &mut id) };
        if ret != 0 {
            return Err(DpdkError::msg(
                "rte_eth_dev_get_port_by_name",
                format!("no DPDK port named {name:?}"),
            ));
        }
        Ok(id)
    }

    /// Configures port `id` with `cfg`, RX queues filled from `pool`. RSS over IP/UDP/TCP is
    /// enabled when more than one RX queue is asked for and the device supports it.
    pub fn configure(eal: &Eal, id: u16, cfg: &PortConfig, pool: &Mempool) -> Result<Port> {
        // SAFETY: rte_eth_dev_info is plain data; zeroed is a valid value.
        let mut info: ffi::rte_eth_dev_info = unsafe { std::mem::zeroed() };
        // SAFETY: valid port id checked by DPDK; info is a valid out-pointer.
        let ret = unsafe { ffi::rte_eth_dev_info_get(id, &mut info) };
        if ret != 0 {
            return Err(DpdkError::from_ret("rte_eth_dev_info_get", ret));
        }
        if cfg.rx_queues > info.max_rx_queues || cfg.tx_queues > info.max_tx_queues {
            return Err(DpdkError::msg(
                "rte_eth_dev_configure",
                format!(
                    "port {id} supports at most {} rx / {} tx queues, {} / {} requested",
                    info.max_rx_queues, info.max_tx_queues, cfg.rx_queues, cfg.tx_queues
                ),
            ));
        }
        let mut conf = ffi::rte_eth_conf::default();
        if cfg.rx_queues > 1 {
            // SAFETY: a pure function returning a constant.
            let hf = unsafe { ffi::espgw_rss_ip_udp_tcp() } & info.flow_type_rss_offloads;
            if hf != 0 {
                conf.rxmode.mq_mode = ffi::rte_eth_rx_mq_mode_RTE_ETH_MQ_RX_RSS;
                conf.rx_adv_conf.rss_conf.rss_hf = hf;
            }
        }
        // SAFETY: conf is a valid, fully initialised rte_eth_conf; DPDK validates the queue counts.
        let ret = unsafe { ffi::rte_eth_dev_configure(id, cfg.rx_queues, cfg.tx_queues, &conf) };
        if ret != 0 {
            return Err(DpdkError::from_ret("rte_eth_dev_configure", ret));
        }
        if let Some(mtu) = cfg.mtu {
            // SAFETY: configured port; MTU range checked by the PMD.
            let ret = unsafe { ffi::rte_eth_dev_set_mtu(id, mtu) };
            if ret != 0 && ret != -(libc::ENOTSUP) {
                return Err(DpdkError::from_ret("rte_eth_dev_set_mtu", ret));
            }
        }
        // SAFETY: valid port id.
        let socket = unsafe { ffi::rte_eth_dev_socket_id(id) };
        let socket = if socket < 0 { 0 } else { socket as u32 };
        for q in 0..cfg.rx_queues {
            // SAFETY: configured port, queue index < rx_queues; NULL rx_conf = PMD defaults; the
            // pool outlives the port (PortInner holds a clone).
            let ret = unsafe {
                ffi::rte_eth_rx_queue_setup(id, q, cfg.rx_desc, socket, std::ptr::null(), pool.as_ptr())
            };
            if ret != 0 {
                return Err(DpdkError::from_ret("rte_eth_rx_queue_setup", ret));
            }
        }
        for q in 0..cfg.tx_queues {
            // SAFETY: configured port, queue index < tx_queues; NULL tx_conf = PMD defaults.
            let ret = unsafe { ffi::rte_eth_tx_queue_setup(id, q, cfg.tx_desc, socket, std::ptr::null()) };
            if ret != 0 {
                return Err(DpdkError::from_ret("rte_eth_tx_queue_setup", ret));
            }
        }
        if cfg.promiscuous {
            // SAFETY: configured port. Failure (e.g. unsupported on a vdev) is not fatal.
            unsafe { ffi::rte_eth_promiscuous_enable(id) };
            // SAFETY: as above.
            unsafe { ffi::rte_eth_allmulticast_enable(id) };
        }
        let mut name_buf = [0 as std::os::raw::c_char; 64];
        // SAFETY: name_buf has room for RTE_ETH_NAME_MAX_LEN (64) bytes.
        let name = if unsafe { ffi::rte_eth_dev_get_name_by_port(id, name_buf.as_mut_ptr()) } == 0 {
            // SAFETY: DPDK wrote a NUL-terminated string into name_buf.
            unsafe { CStr::from_ptr(name_buf.as_ptr()) }.to_string_lossy().into_owned()
        } else {
            format!("port{id}")
        };
        Ok(Port {
            inner: Arc::new(PortInner {
                id,
                name,
                rx_taken: (0..cfg.rx_queues).map(|_| AtomicBool::new(false)).collect(),
                tx_taken: (0..cfg.tx_queues).map(|_| AtomicBool::new(false)).collect(),
                started: AtomicBool::new(false),
                _pool: pool.clone(),
                _eal: eal.clone(),
            }),
        })
    }

    pub fn id(&self) -> u16 {
        self.inner.id
    }

    /// The DPDK device name (e.g. `net_af_packet0`).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub fn start(&self) -> Result<()> {
        // SAFETY: configured port with all queues set up.
        let ret = unsafe { ffi::rte_eth_dev_start(self.inner.id) };
        if ret != 0 {
            return Err(DpdkError::from_ret("rte_eth_dev_start", ret));
        }
        self.inner.started.store(true, Ordering::Release);
        Ok(())
    }

    /// The port's MAC address.
    pub fn mac(&self) -> [u8; 6] {
        let mut a = ffi::rte_ether_addr::default();
        // SAFETY: valid port id; a is a valid out-pointer.
        unsafe { ffi::rte_eth_macaddr_get(self.inner.id, &mut a) };
        a.addr_bytes
    }

    /// Sets the port's MAC address (before or after start).
    pub fn set_mac(&self, mac: [u8; 6]) -> Result<()> {
        let mut a = ffi::rte_ether_addr { addr_bytes: mac };
        // SAFETY: valid port id; a is a valid pointer for the duration of the call.
        let ret = unsafe { ffi::rte_eth_dev_default_mac_addr_set(self.inner.id, &mut a) };
        if ret != 0 {
            return Err(DpdkError::from_ret("rte_eth_dev_default_mac_addr_set", ret));
        }
        Ok(())
    }

    /// Link state without waiting.
    pub fn link(&self) -> LinkStatus {
        // SAFETY: rte_eth_link is plain data; zeroed is valid.
        let mut l: ffi::rte_eth_link = unsafe { std::mem::zeroed() };
        // SAFETY: valid port id; l is a valid out-pointer.
        unsafe { ffi::rte_eth_link_get_nowait(self.inner.id, &mut l) };
        LinkStatus { up: l.link_status() != 0, speed_mbps: l.link_speed, full_duplex: l.link_duplex() != 0 }
    }

    /// Device counters.
    pub fn stats(&self) -> PortStats {
        let mut s = ffi::rte_eth_stats::default();
        // SAFETY: valid port id; s is a valid out-pointer.
        unsafe { ffi::rte_eth_stats_get(self.inner.id, &mut s) };
        let nq_rx = self.inner.rx_taken.len().min(s.q_ipackets.len());
        let nq_tx = self.inner.tx_taken.len().min(s.q_opackets.len());
        PortStats {
            rx_packets: s.ipackets,
            tx_packets: s.opackets,
            rx_bytes: s.ibytes,
            tx_bytes: s.obytes,
            rx_missed: s.imissed,
            rx_errors: s.ierrors,
            tx_errors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
            rx_queue_packets: s.q_ipackets[..nq_rx].to_vec(),
            tx_queue_packets: s.q_opackets[..nq_tx].to_vec(),
        }
    }

    /// Extended counters, as the PMD names them.
    pub fn xstats(&self) -> Vec<XStat> {
        let id = self.inner.id;
        // SAFETY: NULL/0 asks for the count only.
        let n = unsafe { ffi::rte_eth_xstats_get_names(id, std::ptr::null_mut(), 0) };
        if n <= 0 {
            return Vec::new();
        }
        let n = n as usize;
        let mut names = vec![ffi::rte_eth_xstat_name::default(); n];
        let mut vals = vec![ffi::rte_eth_xstat::default(); n];
        // SAFETY: both arrays have room for n entries.
        let got_names = unsafe { ffi::rte_eth_xstats_get_names(id, names.as_mut_ptr(), n as u32) };
        // SAFETY: as above.
        let got_vals = unsafe { ffi::rte_eth_xstats_get(id, vals.as_mut_ptr(), n as u32) };
        if got_names <= 0 || got_vals <= 0 {
            return Vec::new();
        }
        let m = (got_names as usize).min(got_vals as usize).min(n);
        vals[..m]
            .iter()
            .filter_map(|v| {
                let nm = names.get(v.id as usize)?;
                // SAFETY: DPDK NUL-terminates xstat names within their 64-byte array.
                let name = unsafe { CStr::from_ptr(nm.name.as_ptr()) }.to_string_lossy().into_owned();
                Some(XStat { name, value: v.value })
            })
            .collect()
    }

    /// Takes the exclusive handle for RX queue `q`; `None` if out of range or already taken.
    pub fn rx_queue(&self, q: u16) -> Option<RxQueue> {
        let flag = self.inner.rx_taken.get(q as usize)?;
        if flag.swap(true, Ordering::AcqRel) {
            return None;
        }
        Some(RxQueue { port: self.clone(), queue: q })
    }

    /// Takes the exclusive handle for TX queue `q`; `None` if out of range or already taken.
    pub fn tx_queue(&self, q: u16) -> Option<TxQueue> {
        let flag = self.inner.tx_taken.get(q as usize)?;
        if flag.swap(true, Ordering::AcqRel) {
            return None;
        }
        Some(TxQueue { port: self.clone(), queue: q })
    }
}

impl Drop for PortInner {
    fn drop(&mut self) {
        if self.started.load(Ordering::Acquire) {
            // SAFETY: last handle: no queue handle exists, so no lcore is polling this port.
            unsafe { ffi::rte_eth_dev_stop(self.id) };
        }
        // SAFETY: as above; closing releases the device (and, for vdevs, its kernel resources).
        unsafe { ffi::rte_eth_dev_close(self.id) };
    }
}

/// Exclusive right to poll one RX queue. `Send`, not `Clone`: one lcore owns it.
pub struct RxQueue {
    port: Port,
    queue: u16,
}

impl RxQueue {
    pub fn port_id(&self) -> u16 {
        self.port.inner.id
    }
    pub fn queue_id(&self) -> u16 {
        self.queue
    }

    /// Receives up to `max` packets (bounded by the burst's free room) onto the end of `burst`.
    /// Returns how many arrived.
    #[inline]
    pub fn rx_burst(&mut self, burst: &mut Burst, max: usize) -> usize {
        let (p, room) = burst.spare_raw();
        let n = room.min(max).min(u16::MAX as usize) as u16;
        if n == 0 {
            return 0;
        }
        // SAFETY: this handle is the only one for (port, queue) (rx_taken flag), the port is
        // configured, and p has room for n pointers.
        let got = unsafe { ffi::espgw_rx_burst(self.port.inner.id, self.queue, p, n) } as usize;
        // SAFETY: DPDK filled `got` slots with owned mbufs.
        unsafe { burst.commit(got) };
        got
    }
}

impl Drop for RxQueue {
    fn drop(&mut self) {
        self.port.inner.rx_taken[self.queue as usize].store(false, Ordering::Release);
    }
}

/// Exclusive right to transmit on one TX queue. `Send`, not `Clone`.
pub struct TxQueue {
    port: Port,
    queue: u16,
}

impl TxQueue {
    pub fn port_id(&self) -> u16 {
        self.port.inner.id
    }
    pub fn queue_id(&self) -> u16 {
        self.queue
    }

    /// Sends as many mbufs from the front of `burst` as the device accepts; those leave the
    /// burst, the rest move to its front. Returns how many were sent.
    #[inline]
    pub fn tx_burst(&mut self, burst: &mut Burst) -> usize {
        let (p, len) = burst.filled_raw();
        if len == 0 {
            return 0;
        }
        // SAFETY: exclusive (port, queue) handle; p holds len owned mbuf pointers (len <= 256
        // fits u16).
        let sent = unsafe { ffi::espgw_tx_burst(self.port.inner.id, self.queue, p, len as u16) } as usize;
        // SAFETY: the device took ownership of the first `sent` mbufs.
        unsafe { burst.consumed_front(sent) };
        sent
    }
}

impl Drop for TxQueue {
    fn drop(&mut self) {
        self.port.inner.tx_taken[self.queue as usize].store(false, Ordering::Release);
    }
}
