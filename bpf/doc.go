// Package bpf holds zmtpdump's eBPF program (capture.c) and the Go bindings
// that bpf2go generated from it. The generated files are committed so that
// building needs no clang; `make generate` regenerates them.
package bpf

//go:generate go tool bpf2go -tags linux -target bpfel -type event_hdr Capture capture.c -- -I/usr/include/x86_64-linux-gnu -O2 -g -Wall -Werror
