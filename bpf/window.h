// SPDX-License-Identifier: (MPL-2.0 OR GPL-2.0-only)
//
// window.h: the TCX programs' window of the payload, from which the walk
// reads frame headers.
// Included by framing.h (capture.c's walk); not a program of its own.

#ifndef ZD_WINDOW_H
#define ZD_WINDOW_H

// The window. The TCX programs (capture_ingress, capture_egress) read
// frame headers from a window of the payload in the CPU's stage
// (stage->win, its own buffer: ship() writes rec.data), loaded with one
// bpf_skb_load_bytes from the first header that is not in it, sized by how
// close together the headers were (see win_at): on lo the payload is in page
// fragments, and a load per header walked the fragment list each time
// (about 80 ns of the application's time per 64-byte message). A header
// past the window's end, or split by it, loads the next window there, so
// a BIG TCP packet is walked window by window. Runs of short message
// frames whole in the packet, where the walk only counts, are counted in
// one bounded loop over the window (fast_frames), not a bpf_loop callback
// per header and per body. The socket filter (capture_socket) has no room
// for either under its size budget (loader/size_test.go): it loads each
// header. Both walk the same frames to the same state, marks and records.

// win_load loads the window (s->win) from payload offset i on, for a
// header that is not in the window of payload offsets [win & 0xffffffff,
// win >> 32) (empty: 0), of a packet of pkt & 0xffffffff payload bytes
// from skb offset pkt >> 32. It loads WIN_MIN bytes, or, when the walk
// reached the header at i by walking frames through that window (it is
// less than WIN_MIN past its end), WIN_GROW times its size, at most
// WIN_MAX, never past the packet: headers close together share one load
// of the payload's page fragments, and a header after a large body costs
// little more than its own bytes. It returns the bytes loaded, 0 if they
// could not be read. A global function: the verifier walks it once, not
// at each of win_at's states.
__noinline int win_load(struct __sk_buff *skb, struct stage *s, __u32 i, __u64 win, __u64 pkt)
{
	__u32 lo = win, hi = win >> 32, n = pkt, len = WIN_MIN;

	if (!skb || !s || i >= n)
		return 0;
	if (hi && i < hi + WIN_MIN)
		len = (hi - lo) * WIN_GROW;
	if (len > n - i)
		len = n - i;
	if (len > WIN_MAX)
		len = WIN_MAX;
	// Bounded for the verifier: [1, WIN_MAX].
	len = ((len - 1) & (WIN_MAX - 1)) + 1;
	if (bpf_skb_load_bytes(skb, (pkt >> 32) + i, s->win, len) < 0)
		return 0;
	return len;
}

// win_at returns where payload bytes [i, i+need) are in the CPU's window
// (stage->win), loading the window from i on first (win_load) when they
// are not all in it; NULL if they cannot be read. need is at most 9 and
// n - i.
static __always_inline __u8 *win_at(struct walk *w, __u32 i, __u32 need)
{
	struct stage *s = w->stage;
	int len;

	if (i < s->wlo || i + need > s->whi) {
		len = win_load(w->skb, s, i, (__u64)s->whi << 32 | s->wlo, (__u64)w->base << 32 | w->n);
		if (len <= 0)
			return 0;
		s->wlo = i;
		s->whi = i + len;
	}
	return s->win + ((i - s->wlo) & (WIN_MAX - 1));
}

// Short message frames the window's inner loop walks per callback at most.
#define FAST_FRAMES 32

// fast_frames walks, from payload offset i (at a frame header, no header
// or body pending), the run of short message frames (no LONG, no COMMAND)
// whose header is in the window (payload offsets [win & 0xffffffff,
// win >> 32) in s->win) and whose body is whole in the packet (n bytes),
// in one bounded loop of direct loads: the common case of small messages,
// at a few instructions a frame instead of a bpf_loop callback for the
// header and one for the body. It stops at a frame header at or past lim,
// and at any other frame, for frame_step_of to go on. It counts the frames
// in the walk's state (s->st) as frame_step_of would, and returns the
// offset it reached (i if it walked none): the caller finishes the state.
// A global function, its arguments scalars: the verifier walks its loop
// once, not at every frame_step_of state that calls it (some 90,000
// instructions more, and count mode's program past the verifier's limit),
// and a pointer to the walk, on the stack, would lose the verifier the
// pointers the walk holds.
__noinline int fast_frames(struct stage *s, __u32 i, __u64 win, __u32 n, __u32 lim)
{
	struct flow_state *st;
	__u32 lo = win, hi = win >> 32, k, len, at;
	__u64 frames, messages, bytes;
	__u8 f;

	if (!s)
		return 0;
	st = &s->st;
	frames = st->frames;
	messages = st->messages;
	bytes = st->bytes;
	for (k = 0; k < FAST_FRAMES; k++) {
		if (i < lo || i + 2 > hi || i >= lim)
			break; // not in the window (hi <= n)
		at = (i - lo) & (WIN_MAX - 1);
		f = s->win[at];
		len = s->win[at + 1];
		if (f & ~ZF_MORE || i + 2 + len > n)
			break;
		frames++;
		messages += !f;
		bytes += len;
		st->in_msg = f;
		st->hdr_flags = f;
		i += 2 + len;
	}
	if (k) {
		st->frames = frames;
		st->messages = messages;
		if (count_only)
			st->bytes = bytes;
		st->len_acc = 0;
		st->body_left = 0;
		st->ship_left = 0;
	}
	return i;
}

#endif // ZD_WINDOW_H
