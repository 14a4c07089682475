//go:build ignore

// splice.c is the shape of bpf/capture.c's filter hook, for
// TestSpliceIntoELF: a TC program calling a __noinline zd_filter stub that
// Program.Splice replaces. Rebuild splice_bpfel.o with
//
//	clang -O2 -g -Wall -Werror -target bpf -I/usr/include/x86_64-linux-gnu -c splice.c -o splice_bpfel.o
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

// The stub's result must not be a compile-time constant, or clang may fold
// the call's result into the caller and the spliced body would be ignored.
static __noinline int zd_filter(struct __sk_buff *skb)
{
	return skb->len != 0;
}

SEC("tc")
int splice_test(struct __sk_buff *skb)
{
	__u32 len = skb->len;

	if (!zd_filter(skb))
		return 0;
	return len + 1;
}

char _license[] SEC("license") = "Dual MIT/GPL";
