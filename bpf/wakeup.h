// SPDX-License-Identifier: (MPL-2.0 OR GPL-2.0-only)
//
// When a ring buffer's reader is woken: shared by the packet capture
// (capture.c) and the ipc capture (ipc_common.h).

#ifndef ZD_WAKEUP_H
#define ZD_WAKEUP_H

// WAKEUP_GAP_NS is the shortest time between two wakeups for a record that
// finds the ring empty.
#define WAKEUP_GAP_NS 10000000ULL

// ring_wakeup_flags returns the bpf_ringbuf_output flags of a record of n
// bytes made at ts (CLOCK_MONOTONIC) for ring: wake the reader once
// threshold bytes wait, or for a record that finds the ring empty (the
// reader idle) at most once per WAKEUP_GAP_NS (*last: when that was last
// asked); otherwise not, and the reader polls for the rest. Under load it
// drains in batches instead of once per record, and a lone record still
// reaches it at once. threshold 0 leaves it to the kernel (every record).
static __always_inline __u64 ring_wakeup_flags(void *ring, __u64 *last, __u64 threshold, __u64 ts, __u64 n)
{
	__u64 avail;

	if (!threshold)
		return 0;
	avail = bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA);
	if (avail + n >= threshold)
		return BPF_RB_FORCE_WAKEUP;
	if (avail == 0 && ts - *last >= WAKEUP_GAP_NS) {
		*last = ts;
		return BPF_RB_FORCE_WAKEUP;
	}
	return BPF_RB_NO_WAKEUP;
}

#endif
