// SPDX-License-Identifier: (MPL-2.0 OR GPL-2.0-only)
//
// parse.h: the link and network layers of capture.c, up to the TCP header.
// Included by capture.c after its counters; not a program of its own.

#ifndef ZD_PARSE_H
#define ZD_PARSE_H

// In-band VLAN tags walked: an 802.1ad (or pre-standard 0x9100) outer tag
// and an 802.1Q inner one. A frame with more is counted in CNT_SKIPPED.
#define MAX_VLAN_TAGS 2
// IPv6 extension headers walked before TCP (hop-by-hop, routing,
// destination options, fragment, authentication). A longer chain is counted
// in CNT_SKIPPED; pcapfile walks up to 8, but the walk here is unrolled and
// every step costs instructions of the socket filter (20 KiB on 6.1).
#define MAX_EXT_HDRS 6

#define ETH_P_QINQ_OLD 0x9100 // the pre-802.1ad QinQ tag

// The results of parse_l3 that are not a TCP header offset.
#define PARSE_OTHER -1   // not TCP (or not well formed): ignored silently
#define PARSE_SKIPPED -2 // TCP, or maybe TCP, that cannot be followed: counted

static __always_inline int is_vlan(__u16 proto)
{
	return proto == ETH_P_8021Q || proto == ETH_P_8021AD || proto == ETH_P_QINQ_OLD;
}

// ext_walk is where a walk through IPv6 extension headers stands.
struct ext_walk {
	struct __sk_buff *skb;
	__u32 off;  // skb offset of the header next names
	__u32 room; // IP payload bytes from off on
	__u8 next;  // the protocol of the header at off
	int res;    // what the last step returned
};

// ext_hdr moves w past the extension header at w->off. It returns 0 to go
// on, 1 when TCP is at w->off, PARSE_OTHER or PARSE_SKIPPED to stop.
static __always_inline int ext_hdr(struct ext_walk *w)
{
	__u8 eh[4];
	__u32 len;
	__u8 next;

	next = w->next;
	if (next == IPPROTO_TCP)
		return 1;
	if (next != IPPROTO_HOPOPTS && next != IPPROTO_ROUTING && next != IPPROTO_DSTOPTS &&
	    next != IPPROTO_FRAGMENT && next != IPPROTO_AH)
		return PARSE_OTHER; // UDP, ICMPv6, ESP, no next header...
	if (bpf_skb_load_bytes(w->skb, w->off, eh, sizeof(eh)) < 0)
		return PARSE_OTHER;
	if (next == IPPROTO_FRAGMENT) {
		// Only the first fragment holds the TCP header.
		if (((eh[2] << 8) | eh[3]) & 0xfff8)
			return eh[0] == IPPROTO_TCP ? PARSE_SKIPPED : PARSE_OTHER;
		len = 8;
	} else if (next == IPPROTO_AH) {
		len = ((__u32)eh[1] + 2) * 4;
	} else {
		len = ((__u32)eh[1] + 1) * 8;
	}
	if (len > w->room)
		return PARSE_OTHER;
	w->room -= len;
	w->off += len;
	w->next = eh[0];
	return 0;
}

// ext_step is one step of the walk: with framing bpf_loop's callback (1
// stops the loop), else called MAX_EXT_HDRS + 1 times, unrolled (6.1's
// verifier refuses a loop: "back-edge"). Either way one copy of its body
// keeps the socket filter small.
static __noinline long ext_step(__u32 idx, void *ctx)
{
	struct ext_walk *w = ctx;

	if (!w)
		return 1;
	w->res = ext_hdr(w);
	return w->res != 0;
}

// parse_ipv6 walks the IPv6 header at off and its extension headers. It
// fills the addresses in hdr and returns the TCP header offset, with in
// *l4_room the bytes from there to the end of the IP payload.
static __always_inline int parse_ipv6(struct __sk_buff *skb, __u32 off, struct event_hdr *hdr, __u32 *l4_room)
{
	struct ipv6hdr ip6;
	struct ext_walk w = {};

	if (bpf_skb_load_bytes(skb, off, &ip6, sizeof(ip6)) < 0)
		return PARSE_OTHER;
	if (ip6.version != 6)
		return PARSE_OTHER;
	hdr->family = 6;
	__builtin_memcpy(hdr->saddr, &ip6.saddr, 16);
	__builtin_memcpy(hdr->daddr, &ip6.daddr, 16);
	w.off = off + sizeof(ip6);
	w.room = bpf_ntohs(ip6.payload_len);
	if (w.room == 0) {
		// A jumbogram (RFC 2675: its length in a hop-by-hop option) or
		// a BIG TCP packet (which has no such option at taps since
		// Linux 6.x): trust the skb.
		if (skb->len <= w.off)
			return PARSE_OTHER;
		w.room = skb->len - w.off;
	}
	w.next = ip6.nexthdr;
	w.skb = skb;
#ifdef ZD_NO_FRAMING
#pragma clang loop unroll(full)
	for (int i = 0; i <= MAX_EXT_HDRS; i++) {
		if (ext_step(i, &w))
			break;
	}
#else
	bpf_loop(MAX_EXT_HDRS + 1, ext_step, &w, 0);
#endif
	if (w.res < 0)
		return w.res;
	if (w.res == 0)
		return PARSE_SKIPPED; // more extension headers than walked
	*l4_room = w.room;
	return w.off;
}

// parse_l3 finds the TCP header. It fills the addresses and family in hdr
// and returns the TCP header offset, and in *l4_room the bytes from the TCP
// header to the end of the IP payload. For anything else it returns
// PARSE_OTHER, or PARSE_SKIPPED for TCP it cannot follow: a later fragment
// (IPv4, or IPv6 with a fragment header), more than MAX_EXT_HDRS IPv6
// extension headers or MAX_VLAN_TAGS VLAN tags.
//
// With framing, a global function like ship(): the verifier checks it once,
// not once for every way out of it times the rest of the program.
#ifdef ZD_NO_FRAMING
static __always_inline
#else
__noinline
#endif
int parse_l3(struct __sk_buff *skb, struct event_hdr *hdr, __u32 *l4_room)
{
	__u32 off = l2_len;
	__u16 proto;

	if (!skb || !hdr || !l4_room)
		return PARSE_OTHER;
	proto = bpf_ntohs(skb->protocol);
	if (l2_len == ETH_HLEN) {
		// In-band VLAN tags (one not offloaded into skb->vlan_tci: the
		// inner tag of QinQ at TC ingress; both in a test run).
#pragma clang loop unroll(full)
		for (int i = 0; i < MAX_VLAN_TAGS; i++) {
			__be16 inner;

			if (!is_vlan(proto))
				break;
			if (bpf_skb_load_bytes(skb, off + 2, &inner, sizeof(inner)) < 0)
				return PARSE_OTHER;
			proto = bpf_ntohs(inner);
			off += 4;
		}
		if (is_vlan(proto))
			return PARSE_SKIPPED;
	}

	if (proto == ETH_P_IP) {
		struct iphdr ip;
		__u32 ihl, tot;

		if (bpf_skb_load_bytes(skb, off, &ip, sizeof(ip)) < 0)
			return PARSE_OTHER;
		if (ip.version != 4 || ip.protocol != IPPROTO_TCP)
			return PARSE_OTHER;
		if (bpf_ntohs(ip.frag_off) & 0x1fff) // not the first fragment
			return PARSE_SKIPPED;
		ihl = ip.ihl * 4;
		tot = bpf_ntohs(ip.tot_len);
		if (tot == 0 && skb->len > off + 0xffff)
			tot = skb->len - off; // a BIG TCP packet: trust the skb
		if (ihl < sizeof(ip) || tot < ihl)
			return PARSE_OTHER;
		hdr->family = 4;
		__builtin_memcpy(hdr->saddr, &ip.saddr, 4);
		__builtin_memcpy(hdr->daddr, &ip.daddr, 4);
		*l4_room = tot - ihl;
		return off + ihl;
	}
	if (proto == ETH_P_IPV6)
		return parse_ipv6(skb, off, hdr, l4_room);
	return PARSE_OTHER;
}

#endif // ZD_PARSE_H
