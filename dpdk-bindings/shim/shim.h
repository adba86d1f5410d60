/* The DPDK API surface espgw uses, plus exported wrappers for DPDK's static inline
 * fast-path functions (which have no symbol in the shared libraries). */
#ifndef ESPGW_DPDK_SHIM_H
#define ESPGW_DPDK_SHIM_H

#include <stdint.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_launch.h>
#include <rte_cycles.h>
#include <rte_version.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

uint16_t espgw_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
uint16_t espgw_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
struct rte_mbuf *espgw_pktmbuf_alloc(struct rte_mempool *mp);
int espgw_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs, unsigned int n);
void espgw_pktmbuf_free(struct rte_mbuf *m);
char *espgw_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len);
char *espgw_pktmbuf_append(struct rte_mbuf *m, uint16_t len);
char *espgw_pktmbuf_adj(struct rte_mbuf *m, uint16_t len);
int espgw_pktmbuf_trim(struct rte_mbuf *m, uint16_t len);
uint16_t espgw_pktmbuf_headroom(const struct rte_mbuf *m);
uint16_t espgw_pktmbuf_tailroom(const struct rte_mbuf *m);
unsigned int espgw_ring_mp_enqueue_burst(struct rte_ring *r, void *const *objs, unsigned int n);
unsigned int espgw_ring_sc_dequeue_burst(struct rte_ring *r, void **objs, unsigned int n);
unsigned int espgw_ring_count(const struct rte_ring *r);
unsigned int espgw_lcore_id(void);
uint64_t espgw_rdtsc(void);
int espgw_errno(void);
const char *espgw_version(void);

uint64_t espgw_rss_ip_udp_tcp(void);

#endif
