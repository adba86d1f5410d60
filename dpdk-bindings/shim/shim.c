/* Exported wrappers over DPDK's static inline functions. Each is a one-line call: the
 * behaviour, preconditions and thread-safety are those of the wrapped DPDK function. */
#include "shim.h"

uint16_t espgw_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{ return rte_eth_rx_burst(port, queue, pkts, n); }

uint16_t espgw_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{ return rte_eth_tx_burst(port, queue, pkts, n); }

struct rte_mbuf *espgw_pktmbuf_alloc(struct rte_mempool *mp)
{ return rte_pktmbuf_alloc(mp); }

int espgw_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs, unsigned int n)
{ return rte_pktmbuf_alloc_bulk(mp, mbufs, n); }

void espgw_pktmbuf_free(struct rte_mbuf *m)
{ rte_pktmbuf_free(m); }

char *espgw_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len)
{ return rte_pktmbuf_prepend(m, len); }

char *espgw_pktmbuf_append(struct rte_mbuf *m, uint16_t len)
{ return rte_pktmbuf_append(m, len); }

char *espgw_pktmbuf_adj(struct rte_mbuf *m, uint16_t len)
{ return rte_pktmbuf_adj(m, len); }

int espgw_pktmbuf_trim(struct rte_mbuf *m, uint16_t len)
{ return rte_pktmbuf_trim(m, len); }

uint16_t espgw_pktmbuf_headroom(const struct rte_mbuf *m)
{ return rte_pktmbuf_headroom(m); }

uint16_t espgw_pktmbuf_tailroom(const struct rte_mbuf *m)
{ return rte_pktmbuf_tailroom(m); }

unsigned int espgw_ring_mp_enqueue_burst(struct rte_ring *r, void *const *objs, unsigned int n)
{ return rte_ring_mp_enqueue_burst(r, objs, n, NULL); }

unsigned int espgw_ring_sc_dequeue_burst(struct rte_ring *r, void **objs, unsigned int n)
{ return rte_ring_sc_dequeue_burst(r, objs, n, NULL); }

unsigned int espgw_ring_count(const struct rte_ring *r)
{ return rte_ring_count(r); }

unsigned int espgw_lcore_id(void)
{ return rte_lcore_id(); }

uint64_t espgw_rdtsc(void)
{ return rte_rdtsc(); }

int espgw_errno(void)
{ return rte_errno; }

const char *espgw_version(void)
{ return rte_version(); }

uint64_t espgw_rss_ip_udp_tcp(void)
{ return RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP | RTE_ETH_RSS_TCP; }
