// SPDX-License-Identifier: (MPL-2.0 OR GPL-2.0-only)
//
// tcpopts.h: the walk of a SYN's TCP options for its window scale, for
// flows' stall diagnosis. Included by capture.c; not a program of its own.

#ifndef ZD_TCPOPTS_H
#define ZD_TCPOPTS_H

// TCP option kinds (RFC 9293 section 3.2, RFC 7323 section 2.2).
#define ZD_TCPOPT_EOL 0
#define ZD_TCPOPT_NOP 1
#define ZD_TCPOPT_WSCALE 3
// The largest window scale shift: a larger one means 14 (RFC 7323 section
// 2.3).
#define ZD_MAX_WSCALE 14
// The TCP options walked: 40 bytes of options hold at most 40. Without
// framing the walk is unrolled: some 260 instructions of CaptureBasic's
// socket filter, which has room for them (some 80 with bpf_loop).
#define MAX_TCP_OPTS 40

// opt_step reads the TCP option at w->opt of a SYN, whose header ends at
// w->base, and moves past it: with framing bpf_loop's callback (1 stops
// the loop), else called MAX_TCP_OPTS times, unrolled, as ext_step. It
// stops at the window scale option, setting w->h.wscale, at the end of the
// options, and at an option that is malformed or not whole in the packet.
static __noinline long opt_step(__u32 idx, void *ctx)
{
	struct walk *w = ctx;
	__u64 opt = w->opt;
	__u8 o[3];

	// Three bytes: a window scale option whole. Where fewer are left in
	// the header, or in the packet, none starts.
	if (opt + 3 > w->base || bpf_skb_load_bytes(w->skb, opt, o, sizeof(o)) < 0)
		return 1;
	if (o[0] == ZD_TCPOPT_NOP) {
		w->opt = opt + 1;
		return 0;
	}
	if (o[0] == ZD_TCPOPT_EOL || o[1] < 2)
		return 1; // the end of the options, or malformed
	if (o[0] == ZD_TCPOPT_WSCALE) {
		if (o[1] == 3)
			w->h.wscale = o[2] > ZD_MAX_WSCALE ? ZD_MAX_WSCALE : o[2];
		return 1;
	}
	w->opt = opt + o[1];
	return 0;
}

// wscale_of walks the options of the SYN whose TCP header starts at skb
// offset l4 (its end at w->base) for its window scale option, setting
// w->h.wscale when it finds one. Only a SYN's options are walked: the
// option counts only there (RFC 7323 section 2.2).
static __always_inline void wscale_of(struct walk *w, __u32 l4)
{
	w->opt = l4 + sizeof(struct tcphdr);
#ifdef ZD_NO_FRAMING
#pragma clang loop unroll(full)
	for (int i = 0; i < MAX_TCP_OPTS; i++) {
		if (opt_step(i, w))
			break;
	}
#else
	bpf_loop(MAX_TCP_OPTS, opt_step, w, 0);
#endif
}

#endif // ZD_TCPOPTS_H
