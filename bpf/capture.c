//go:build ignore

// SPDX-License-Identifier: (MPL-2.0 OR GPL-2.0-only)
//
// zmtpdump's kernel side: a TC (TCX) program that matches TCP packets
// against the port filter and ships each match -- a fixed header followed by
// exactly the captured payload bytes -- to a BPF ring buffer.
//
// With frame_keep set, the program follows ZMTP framing per flow and ships,
// of each message frame, only its header and first frame_keep body bytes:
// the rest of a large body crosses the ring as a count, not as bytes (see
// "Kernel-side framing" below). The same walk, with frame_walk set and
// frame_keep 0, ships every byte but marks where frames start (see "Marks").
// Built with -DZD_NO_FRAMING for kernels without bpf_loop (before 5.17):
// then every payload byte is shipped and nothing is walked or marked.

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

// TCP header flags, as in the flags byte.
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08

char __license[] SEC("license") = "Dual MPL/GPL";

// The largest payload copied per record: a GSO/GRO super-packet is up to
// 64 KiB. Must be a power of two (see the bound in ship()). A BIG TCP packet
// (up to 512 KiB) is shipped in up to MAX_CHUNKS records.
#define MAX_PAYLOAD 65536
#ifdef ZD_NO_FRAMING
#define MAX_CHUNKS 1 // kernels without bpf_loop predate BIG TCP (6.3)
#else
#define MAX_CHUNKS 8
#endif

enum direction {
	DIR_INGRESS = 0,
	DIR_EGRESS = 1,
};

// Kernel counters, per CPU; userspace sums them.
enum counter {
	CNT_MATCHED = 0,   // packets that matched the filter
	CNT_RING_FULL = 1, // records lost: no room in the ring buffer
	CNT_CUT = 2,       // packets whose payload exceeded MAX_CHUNKS records
	CNT_LOAD_ERR = 3,  // bpf_skb_load_bytes failed
	CNT_RING_BYTES = 4, // bytes written to the ring buffer, headers included
	CNT_ELIDED = 5,     // payload bytes left out inside frame bodies
	CNT_UNFRAMED = 6,   // flows whose framing the kernel stopped following
	CNT_JOINED = 7,     // join points (set by userspace) the walk started at
	CNT_SKIPPED = 8,    // TCP packets (any port) not parsed: see parse_l3
	CNT_QUIET_ACKS = 9, // count mode: pure ACKs of followed directions not shipped
	CNT_RACED = 10,     // count mode: walks whose counts were merged into another's (store)
	CNT_MAX = 11,
};

// event_hdr starts every ring-buffer record; cap_len payload bytes follow.
//
// A record normally describes one packet. When kernel-side framing leaves
// bytes out, a packet is described by one record per kept stretch (a
// "piece"): its seq is that of the piece's first byte, payload_len counts the
// kept bytes and the left-out ones after them, and pkt_len is what a packet
// carrying just that would measure. Only the last piece carries FIN, RST and
// PSH; a SYN is never split.
//
// A record of a direction the walk follows may carry a mark (see "Marks"):
// the first frame header the walk walked in its kept bytes.
struct event_hdr {
	__u64 ts_ns;       // bpf_ktime_get_ns() (CLOCK_MONOTONIC)
	__u32 ifindex;
	__u32 pkt_len;     // skb->len: the packet as seen, link header included
	__u32 payload_len; // TCP payload bytes this record covers
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
	__u8 piece;        // 1: one of several records of a packet split by framing
	__u64 lost;        // records lost so far (all CPUs) when this one was made
	// The mark; all 0 when mark is 0.
	__u64 frames;      // frames walked in the direction before the marked header
	__u64 messages;    // messages whose last frame header was walked before it
	__u32 mark_off;    // payload offset (in this record) of the marked header
	__u8 mark;         // MARK_VALID | MARK_MSG_START, or 0: no mark
	// 1: the cap_len payload bytes this record was to hold could not be
	// read (bpf_skb_load_bytes failed): none follow, and the record counts
	// in lost (it is a loss, not a snap cut); userspace turns them into a
	// gap.
	__u8 unread;
	__u16 window;      // the TCP header's window, host order, unscaled
	// A SYN's window scale option: the shift (at most 14, RFC 7323
	// section 2.3), or WSCALE_NONE: no option, or not a SYN (the options
	// of other segments are not parsed).
	__u8 wscale;
	// COUNT_VALID: the record is of a direction the walk follows, and
	// the counts below are the direction's as walked up to the end of
	// the bytes it covers (seq + payload_len); COUNT_WHOLE: in count
	// mode, the payload bytes it leaves out are of frames left out
	// whole, headers included (see "Counting").
	__u8 counted;
	__u8 _pad[6];
};

// rec_counts follows event_hdr in every record: the counts of the
// record's direction as walked up to the end of the bytes the record
// covers, when event_hdr.counted has COUNT_VALID; all 0 otherwise (see
// struct flow_state).
struct rec_counts {
	__u64 messages;
	__u64 frames;
	__u64 bytes;
	__u32 cmds[4]; // PING, PONG, SUBSCRIBE, CANCEL
	__u32 unnamed; // commands not classified: their name was not in the packet
	__u32 _pad;
};

#define WSCALE_NONE 0xff

// event_hdr.counted bits.
#define COUNT_VALID 0x01
#define COUNT_WHOLE 0x02

// event_hdr.mark bits.
#define MARK_VALID 0x01     // the record holds a walked frame header's start
#define MARK_MSG_START 0x02 // no message is open at it: it starts one (or is a command)

// The counts follow the header only in count mode's build (review K1):
// the others' records are 48 bytes shorter (the loader decodes by the
// build it loaded: loader/record.go).
struct record {
	struct event_hdr hdr;
#ifdef ZD_COUNT
	struct rec_counts counts;
#endif
	__u8 data[MAX_PAYLOAD];
};

// REC_HDR_LEN is a record's length before its payload bytes.
#define REC_HDR_LEN __builtin_offsetof(struct record, data)

#include "flowstate.h"
#include "wakeup.h"

// The TCX programs' framing walk reads frame headers from a window of the
// payload loaded into the CPU's stage (see "The window" in framing.h):
// WIN_MIN bytes at first, WIN_GROW times more while headers come close
// together, at most WIN_MAX bytes at a time. A power of two: offsets into
// it are masked.
#define WIN_MAX 8192
#define WIN_MIN 512
#define WIN_GROW 8
// Bytes past the window's end a masked offset may read: a header's 9.
#define WIN_PAD 8

// stage is a CPU's scratch space: the record being made, the framing state
// of the direction being walked (see "Sharing the state"), and the window
// of the payload the walk reads headers from.
struct stage {
	struct record rec;
	struct flow_state st;
	// Count mode: the counts and expect of st when the walk copied it, so
	// that store can merge this walk's counts with another's that stored
	// meanwhile (see "Sharing the state").
	struct rec_counts from;
	__u32 from_expect;
	__u32 _pad2;
	struct flow_state other; // the entry another walk stored meanwhile, copied
	// The payload bytes [wlo, whi) of the packet being walked are in
	// win (TCX only; emptied before each walk). Here, not in struct
	// walk: on 6.1 the socket filter's stack, the walk on it, is at the
	// verifier's limit (512 bytes over its calls).
	__u32 wlo;
	__u32 whi;
	__u8 win[WIN_MAX + WIN_PAD];
};

// Set by the loader before load.
volatile const __u8 match_all_ports = 0; // 1: every TCP port matches
volatile const __u32 l2_len = ETH_HLEN;  // link-layer header length
volatile const __u32 loopback_ifindex = 1; // socket backend: lo's index
// Wake the reader only once this many bytes wait in the ring (see
// ring_wakeup_flags).
volatile const __u64 wakeup_bytes = 0;
// When the last wakeup for an empty ring was asked (CLOCK_MONOTONIC).
__u64 last_wakeup_ns = 0;
// Kernel-side framing: 1 walks the ZMTP frames of the flows whose start it
// sees (or that userspace joined), and marks the records; 0 walks nothing.
volatile const __u8 frame_walk = 0;
// While walking: 0 ships every byte; otherwise the number of body bytes
// shipped of each ZMTP message frame (commands are always whole).
volatile const __u32 frame_keep = 0;
// Count mode (see "Counting" in framing.h): 1 leaves the message frames of
// the directions the walk follows and the elide map names out whole,
// headers included; needs frame_walk and frame_keep. Only the
// build with -DZD_COUNT (CaptureCount, loaded for count mode) has it: the
// others leave its code out, so that the socket filter, which count mode
// does not use, stays within its option memory budget (loader/size_test.go).
#ifdef ZD_COUNT
volatile const __u8 count_only = 0;
#else
#define count_only 0
#endif

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

// One stage per CPU (a per-CPU map cannot hold 64 KiB values): the payload
// is loaded here, then copied into the ring with its exact size.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct stage);
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

static __always_inline void add(__u32 which, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &which);
	if (v)
		*v += n;
}

static __always_inline void count(__u32 which)
{
	add(which, 1);
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

#include "parse.h"

// ship writes one record: the header h, then cap payload bytes read from
// skb offset from. With framing, a global function: the verifier checks it
// once, not at every call (pointer arguments to global functions need 5.12,
// older than bpf_loop; without framing it is inlined).
#ifdef ZD_NO_FRAMING
static __always_inline
#else
__noinline
#endif
int ship(struct __sk_buff *skb, struct stage *stage, struct event_hdr *h, __u32 from, __u32 cap)
{
	__u32 zero = 0, n = 0, unread = 0;
	__u64 *lost, flags = 0;
	struct record *rec;

	if (!skb || !stage || !h)
		return 0;
	rec = &stage->rec;

	lost = bpf_map_lookup_elem(&lost_total, &zero);
	if (cap > 0) {
		// The verifier must see n bounded from below and above: [1, MAX].
		n = ((cap - 1) & (MAX_PAYLOAD - 1)) + 1;
		if (bpf_skb_load_bytes(skb, from, rec->data, n) < 0) {
			// A loss: counted before this record carries lost, so
			// that userspace declares the bytes before it lost.
			count(CNT_LOAD_ERR);
			if (lost)
				__sync_fetch_and_add(lost, 1);
			unread = n;
			n = 0;
		}
	}
	h->cap_len = n | unread; // one of them is 0
	h->unread = unread != 0;
	if (lost)
		h->lost = *lost;
	rec->hdr = *h;
	h->unread = 0;
#ifdef ZD_COUNT
	if (count_only && h->counted) {
		struct flow_state *st = &stage->st;

		rec->counts.messages = st->messages;
		rec->counts.frames = st->frames;
		rec->counts.bytes = st->bytes;
		rec->counts.cmds[0] = st->cmds[0];
		rec->counts.cmds[1] = st->cmds[1];
		rec->counts.cmds[2] = st->cmds[2];
		rec->counts.cmds[3] = st->cmds[3];
		rec->counts.unnamed = st->unnamed;
	} else if (count_only) {
		rec->counts = (struct rec_counts){}; // never written otherwise
	}
#endif
	// A mark pending in h, its mark_off holding the marked header's
	// sequence number, goes to the first record whose shipped bytes hold
	// that header. Done here, in a function the verifier checks once.
	rec->hdr.mark_off = h->mark_off - h->seq;
	if (h->mark && rec->hdr.mark_off < n) {
		h->mark = 0;
	} else {
		rec->hdr.mark = 0;
		rec->hdr.mark_off = 0;
		rec->hdr.frames = 0;
		rec->hdr.messages = 0;
	}
	flags = ring_wakeup_flags(&events, &last_wakeup_ns, wakeup_bytes, h->ts_ns, REC_HDR_LEN + n);
	if (bpf_ringbuf_output(&events, rec, REC_HDR_LEN + n, flags) < 0) {
		count(CNT_RING_FULL);
		if (lost)
			__sync_fetch_and_add(lost, 1);
		return 0;
	}
	add(CNT_RING_BYTES, REC_HDR_LEN + n);
	return 0;
}

// walk is one packet on its way to the ring: the header of its records and,
// for kernel-side framing, where the walk through its payload stands.
struct walk {
	// The template of the packet's records. While a mark is pending (a
	// frame header walked, no record holding it shipped yet), h.mark is
	// set and h.mark_off holds that header's sequence number (see ship()).
	struct event_hdr h;
	struct __sk_buff *skb;
	struct stage *stage; // the CPU's: its record, and the state below
	// The direction's framing state while the walk runs: a copy of its
	// flowstate entry in the CPU's stage, written back when the walk is
	// done (see "Sharing the state"). In a map, not on the stack: the
	// verifier tracks stack slots' values, and would walk the program
	// again for each.
	struct flow_state *st;
	__u32 base;   // the payload's offset in the skb
	__u32 n;      // payload bytes in the packet
	__u32 i;      // payload offset the framing walk has reached
	__u32 piece;  // payload offset where the next record starts
	__u32 seq;    // the packet's sequence number
	__u32 pkt_len;
	__u8 flags;   // the packet's TCP flags
	__u16 pieces; // records written so far (a u8 could wrap to 0)
	__u32 opt;    // a SYN's options walk: the skb offset of the next option
	// Count mode: while eliding, the piece's kept bytes end at cut and
	// the rest of it so far is frames left out whole.
	__u32 cut;
	__u8 eliding;
	__u8 elides;   // count mode, and the elide map names the direction
	__u8 counting; // the records carry w->st's counts (COUNT_VALID); 2: late bytes, counts not theirs
};


// ship_piece writes the record of payload bytes [off, off+span) of which the
// first cap are shipped and the rest left out.
static __noinline void ship_piece(struct walk *w, __u32 off, __u32 cap, __u32 span)
{
	struct event_hdr *h = &w->h;
	__u8 fl = w->flags;

	if (off + span < w->n)
		fl &= ~(TCP_FIN | TCP_RST | TCP_PSH); // not the packet's last piece
	h->tcp_flags = fl;
	h->seq = w->seq + off;
	h->payload_len = span;
	h->pkt_len = w->base + span;
	h->piece = 1;
	if (off == 0 && cap == w->n) {
		// The packet whole after all.
		h->pkt_len = w->pkt_len;
		h->piece = 0;
	}
	if (span > cap)
		add(CNT_ELIDED, span - cap);
	// The counts are the walk's when ship is called: those of the
	// direction up to this record's end only for the packet's last piece
	// (an earlier piece's would hold the frames of the later ones), and not
	// for bytes the walk passed over (counting 2: the counts are of the
	// walk's end, past them). Userspace syncs a decoder at a record's end
	// only with counts of that point (session/count.go, review C1).
	if (count_only)
		h->counted = w->counting ? (off + span == w->n && w->counting == 1 ? COUNT_VALID : 0) |
					   (w->eliding ? COUNT_WHOLE : 0) : 0;
	ship(w->skb, w->stage, h, w->base + off, cap);
	w->pieces++;
}

// ship_chunk ships the first MAX_PAYLOAD bytes of [*off, *off+*cap) as a
// record of their own if there are more, and moves past them.
static __always_inline __attribute__((unused)) int ship_chunk(struct walk *w, __u32 *off, __u32 *cap, __u32 *span)
{
	if (*cap <= MAX_PAYLOAD)
		return 0;
	ship_piece(w, *off, MAX_PAYLOAD, MAX_PAYLOAD);
	*off += MAX_PAYLOAD;
	*cap -= MAX_PAYLOAD;
	*span -= MAX_PAYLOAD;
	return 1;
}

// ship_span ships payload bytes [off, off+span) of which the first cap are
// kept, in records of at most MAX_PAYLOAD kept bytes: a BIG TCP packet (up
// to 512 KiB, seen at egress) needs several. Unrolled by hand: kernels
// before 6.x refuse a loop here ("back-edge").
static __noinline void ship_span(struct walk *w, __u32 off, __u32 cap, __u32 span)
{
#if MAX_CHUNKS == 8
	if (ship_chunk(w, &off, &cap, &span) && ship_chunk(w, &off, &cap, &span) &&
	    ship_chunk(w, &off, &cap, &span) && ship_chunk(w, &off, &cap, &span) &&
	    ship_chunk(w, &off, &cap, &span) && ship_chunk(w, &off, &cap, &span))
		ship_chunk(w, &off, &cap, &span);
#elif MAX_CHUNKS != 1
#error "ship_span ships 1 or 8 chunks"
#endif
	if (cap > MAX_PAYLOAD) {
		count(CNT_CUT);
		cap = MAX_PAYLOAD;
	}
	ship_piece(w, off, cap, span);
}


#include "tcpopts.h"

#include "framing.h"

// handle ships the packet in skb. win (a constant) walks frame headers in
// a window of the payload loaded at once (the TCX programs) rather than
// with a load per header (the socket filter, which has no room for it).
static __always_inline int handle(struct __sk_buff *skb, __u8 dir, const int win)
{
	struct walk w = {};
	struct stage *stage;
	struct tcphdr tcp;
	__u32 cpu, room = 0, doff, plen, avail, cap;
	int l4;

	l4 = parse_l3(skb, &w.h, &room);
	if (l4 < 0) {
		if (l4 == PARSE_SKIPPED)
			count(CNT_SKIPPED);
		return TC_ACT_UNSPEC;
	}
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

	// The staging array has one slot per CPU; ours cannot be touched by
	// another program before we are done (TC runs with migration off and
	// bottom halves serialised on this CPU).
	cpu = bpf_get_smp_processor_id();
	stage = bpf_map_lookup_elem(&staging, &cpu);
	if (!stage)
		return TC_ACT_UNSPEC;
	w.stage = stage;
	w.st = &stage->st;

	w.h.ts_ns = bpf_ktime_get_ns();
	w.h.ifindex = skb->ifindex;
	w.h.pkt_len = skb->len;
	w.h.payload_len = plen;
	w.h.seq = bpf_ntohl(tcp.seq);
	w.h.ack = bpf_ntohl(tcp.ack_seq);
	w.h.sport = bpf_ntohs(tcp.source);
	w.h.dport = bpf_ntohs(tcp.dest);
	w.h.direction = dir;
	w.h.tcp_flags = ((__u8 *)&tcp)[13];
	w.h.window = bpf_ntohs(tcp.window);
	w.h.wscale = WSCALE_NONE;

	w.skb = skb;
	w.base = l4 + doff;
	w.n = cap;
	w.seq = w.h.seq;
	w.flags = w.h.tcp_flags;
	w.pkt_len = skb->len;
	if (tcp.syn)
		wscale_of(&w, l4);
#ifndef ZD_NO_FRAMING
	if (frame_walk && follow(&w, plen, win))
		return TC_ACT_UNSPEC;
#endif
	if (cap > MAX_PAYLOAD)
		ship_span(&w, 0, cap, plen);
	else
		ship(skb, w.stage, &w.h, w.base, cap);
	return TC_ACT_UNSPEC;
}

// capture_socket is the fallback for kernels without TCX: it runs as the
// filter of an AF_PACKET socket, which sees a device's incoming packets and
// (as PACKET_OUTGOING) its outgoing ones. It always returns 0 so that the
// socket itself never queues a packet: the ring buffer is the data path.
SEC("socket")
int capture_socket(struct __sk_buff *skb)
{
	__u8 dir = DIR_INGRESS;

	if (skb->pkt_type == PACKET_OUTGOING)
		dir = DIR_EGRESS;
	else if (skb->ifindex == loopback_ifindex)
		return 0; // on lo an incoming packet was seen going out, in order
	handle(skb, dir, 0);
	return 0;
}

SEC("tc")
int capture_ingress(struct __sk_buff *skb)
{
	return handle(skb, DIR_INGRESS, 1);
}

SEC("tc")
int capture_egress(struct __sk_buff *skb)
{
	return handle(skb, DIR_EGRESS, 1);
}
