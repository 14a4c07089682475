//go:build ignore

// SPDX-License-Identifier: (MPL-2.0 OR GPL-2.0-only)
//
// zmtpdump's kernel side: a TC (TCX) program that matches TCP packets
// against the port filter and ships each match -- a fixed header followed by
// exactly the captured payload bytes -- to a BPF ring buffer.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/pkt_cls.h>
#include <linux/if_packet.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char __license[] SEC("license") = "Dual MPL/GPL";

// The largest payload copied per packet: a GSO/GRO super-packet on lo is up
// to 64 KiB. Must be a power of two (see the bound in handle()).
#define MAX_PAYLOAD 65536

enum direction {
	DIR_INGRESS = 0,
	DIR_EGRESS = 1,
};

// Kernel counters, per CPU; userspace sums them.
enum counter {
	CNT_MATCHED = 0,   // packets that matched the filter
	CNT_RING_FULL = 1, // records lost: no room in the ring buffer
	CNT_CUT = 2,       // packets whose payload exceeded MAX_PAYLOAD
	CNT_LOAD_ERR = 3,  // bpf_skb_load_bytes failed
	CNT_MAX = 4,
};

// event_hdr starts every ring-buffer record; cap_len payload bytes follow.
struct event_hdr {
	__u64 ts_ns;       // bpf_ktime_get_ns() (CLOCK_MONOTONIC)
	__u32 ifindex;
	__u32 pkt_len;     // skb->len: the packet as seen, link header included
	__u32 payload_len; // TCP payload length from the IP header
	__u32 cap_len;     // payload bytes that follow this header
	__u32 seq;
	__u32 ack;
	__u8 saddr[16];    // IPv4 in the first 4 bytes
	__u8 daddr[16];
	__u16 sport;       // host order
	__u16 dport;
	__u8 family;       // 4 or 6
	__u8 direction;    // enum direction
	__u8 tcp_flags;
	__u8 _pad;
	__u64 lost;        // records lost so far (all CPUs) when this one was made
};

struct record {
	struct event_hdr hdr;
	__u8 data[MAX_PAYLOAD];
};

// Set by the loader before load.
volatile const __u8 match_all_ports = 0; // 1: every TCP port matches
volatile const __u32 l2_len = ETH_HLEN;  // link-layer header length
volatile const __u32 loopback_ifindex = 1; // socket backend: lo's index
// Wake the reader only once this many bytes wait in the ring: under load it
// drains in batches instead of once per packet; below that, it polls.
volatile const __u64 wakeup_bytes = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 23); // resized by the loader
} events SEC(".maps");

// ports[p] != 0: TCP port p (source or destination) matches.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u8);
	__uint(max_entries, 65536);
} ports SEC(".maps");

// One staging record per CPU (a per-CPU map cannot hold 64 KiB values):
// the payload is loaded here, then copied into the ring with its exact size.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct record);
	__uint(max_entries, 1); // set to the number of possible CPUs by the loader
} staging SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, CNT_MAX);
} counters SEC(".maps");

// lost_total counts lost records across CPUs. Every record carries its value,
// so userspace learns of a loss in stream order, at the first record after
// it: the bytes of a hole open at that point can never arrive.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} lost_total SEC(".maps");

static __always_inline void count(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &which);
	if (v)
		*v += 1;
}

// zd_filter is the user's filter expression. This body (accept every packet)
// is a placeholder: the loader replaces it with the eBPF compiled from the
// expression before loading. It must stay a real function (noinline, never
// folded away), called with the skb, returning 0 to reject.
static __noinline int zd_filter(struct __sk_buff *skb)
{
	return skb->len != 0;
}

static __always_inline int port_matches(__u16 sport, __u16 dport)
{
	__u32 k;
	__u8 *v;

	if (match_all_ports)
		return 1;
	k = sport;
	v = bpf_map_lookup_elem(&ports, &k);
	if (v && *v)
		return 1;
	k = dport;
	v = bpf_map_lookup_elem(&ports, &k);
	return v && *v;
}

// parse_l3 finds the TCP header. It fills the addresses and family in hdr
// and returns the TCP header offset, and in *l4_room the bytes from the TCP
// header to the end of the IP payload; it returns -1 for anything that is not
// an unfragmented (or first-fragment) TCP packet.
static __always_inline int parse_l3(struct __sk_buff *skb, struct event_hdr *hdr, __u32 *l4_room)
{
	__u32 off = l2_len;
	__u16 proto = bpf_ntohs(skb->protocol);

	if (l2_len == ETH_HLEN && (proto == ETH_P_8021Q || proto == ETH_P_8021AD)) {
		// An in-band VLAN tag (not offloaded into skb->vlan_tci).
		__be16 inner;
		if (bpf_skb_load_bytes(skb, ETH_HLEN + 2, &inner, sizeof(inner)) < 0)
			return -1;
		proto = bpf_ntohs(inner);
		off += 4;
	}

	if (proto == ETH_P_IP) {
		struct iphdr ip;
		__u32 ihl, tot;

		if (bpf_skb_load_bytes(skb, off, &ip, sizeof(ip)) < 0)
			return -1;
		if (ip.version != 4 || ip.protocol != IPPROTO_TCP)
			return -1;
		if (bpf_ntohs(ip.frag_off) & 0x1fff) // not the first fragment
			return -1;
		ihl = ip.ihl * 4;
		tot = bpf_ntohs(ip.tot_len);
		if (ihl < sizeof(ip) || tot < ihl)
			return -1;
		hdr->family = 4;
		__builtin_memcpy(hdr->saddr, &ip.saddr, 4);
		__builtin_memcpy(hdr->daddr, &ip.daddr, 4);
		*l4_room = tot - ihl;
		return off + ihl;
	}
	if (proto == ETH_P_IPV6) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, off, &ip6, sizeof(ip6)) < 0)
			return -1;
		if (ip6.version != 6 || ip6.nexthdr != IPPROTO_TCP)
			return -1;
		hdr->family = 6;
		__builtin_memcpy(hdr->saddr, &ip6.saddr, 16);
		__builtin_memcpy(hdr->daddr, &ip6.daddr, 16);
		*l4_room = bpf_ntohs(ip6.payload_len);
		if (*l4_room == 0) // a BIG TCP jumbogram: trust the skb
			*l4_room = skb->len - off - sizeof(ip6);
		return off + sizeof(ip6);
	}
	return -1;
}

static __always_inline int handle(struct __sk_buff *skb, __u8 dir)
{
	struct event_hdr h = {};
	struct tcphdr tcp;
	struct record *rec;
	__u32 cpu, room = 0, doff, plen, avail, cap, n = 0;
	int l4;

	l4 = parse_l3(skb, &h, &room);
	if (l4 < 0)
		return TC_ACT_UNSPEC;
	if (bpf_skb_load_bytes(skb, l4, &tcp, sizeof(tcp)) < 0)
		return TC_ACT_UNSPEC;
	if (!port_matches(bpf_ntohs(tcp.source), bpf_ntohs(tcp.dest)))
		return TC_ACT_UNSPEC;
	if (!zd_filter(skb))
		return TC_ACT_UNSPEC;
	count(CNT_MATCHED);

	doff = tcp.doff * 4;
	if (doff < sizeof(tcp) || doff > room)
		return TC_ACT_UNSPEC;
	plen = room - doff;
	// Never read past the skb, whatever the IP header claims.
	avail = skb->len > (__u32)l4 + doff ? skb->len - l4 - doff : 0;
	cap = plen < avail ? plen : avail;
	if (cap > MAX_PAYLOAD) {
		cap = MAX_PAYLOAD;
		count(CNT_CUT);
	}

	// The staging array has one slot per CPU; ours cannot be touched by
	// another program before we are done (TC runs with migration off and
	// bottom halves serialised on this CPU).
	cpu = bpf_get_smp_processor_id();
	rec = bpf_map_lookup_elem(&staging, &cpu);
	if (!rec)
		return TC_ACT_UNSPEC;

	h.ts_ns = bpf_ktime_get_ns();
	h.ifindex = skb->ifindex;
	h.pkt_len = skb->len;
	h.payload_len = plen;
	h.seq = bpf_ntohl(tcp.seq);
	h.ack = bpf_ntohl(tcp.ack_seq);
	h.sport = bpf_ntohs(tcp.source);
	h.dport = bpf_ntohs(tcp.dest);
	h.direction = dir;
	h.tcp_flags = ((__u8 *)&tcp)[13];

	if (cap > 0) {
		// The verifier must see n bounded from below and above: [1, MAX].
		n = ((cap - 1) & (MAX_PAYLOAD - 1)) + 1;
		if (bpf_skb_load_bytes(skb, l4 + doff, rec->data, n) < 0) {
			count(CNT_LOAD_ERR);
			n = 0;
		}
	}
	h.cap_len = n;
	{
		__u32 zero = 0;
		__u64 *lost = bpf_map_lookup_elem(&lost_total, &zero);

		if (lost)
			h.lost = *lost;
		rec->hdr = h;
		__u64 flags = 0;
		if (wakeup_bytes) {
			flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) + sizeof(h) + n >= wakeup_bytes ?
					BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
		}
		if (bpf_ringbuf_output(&events, rec, sizeof(h) + n, flags) < 0) {
			count(CNT_RING_FULL);
			if (lost)
				__sync_fetch_and_add(lost, 1);
		}
	}
	return TC_ACT_UNSPEC;
}

// capture_socket is the fallback for kernels without TCX: it runs as the
// filter of an AF_PACKET socket, which sees a device's incoming packets and
// (as PACKET_OUTGOING) its outgoing ones. It always returns 0 so that the
// socket itself never queues a packet: the ring buffer is the data path.
SEC("socket")
int capture_socket(struct __sk_buff *skb)
{
	if (skb->pkt_type == PACKET_OUTGOING) {
		// On lo an outgoing packet comes back as incoming: see it once.
		if (skb->ifindex == loopback_ifindex)
			return 0;
		handle(skb, DIR_EGRESS);
		return 0;
	}
	handle(skb, DIR_INGRESS);
	return 0;
}

SEC("tc")
int capture_ingress(struct __sk_buff *skb)
{
	return handle(skb, DIR_INGRESS);
}

SEC("tc")
int capture_egress(struct __sk_buff *skb)
{
	return handle(skb, DIR_EGRESS);
}
