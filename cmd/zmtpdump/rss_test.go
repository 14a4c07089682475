package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkOpenConnRSS runs zmtpdump -r (this test binary as main) on a
// capture of 20,000 connections that each sent a greeting, READY and one
// 8-frame message and never closed, and on one of a single such
// connection, and reports the growth of the peak RSS per connection
// (RSS-B/conn, from VmHWM): what a busy host's open connections cost the
// process, heap, garbage collector headroom and all.
func BenchmarkOpenConnRSS(b *testing.B) {
	const n = 20000
	dir := b.TempDir()
	one, many := writeSegments(b, "one.pcapng", openConns(1, 8)), writeSegments(b, "many.pcapng", openConns(n, 8))
	hwm := filepath.Join(dir, "hwm")
	maxRSS := func(file string, args ...string) int64 {
		cmd := exec.Command(os.Args[0], append([]string{"-r", file}, args...)...)
		cmd.Env = append(os.Environ(), asMainEnv+"=1", hwmEnv+"="+hwm)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %v\n%.500s", cmd.Args, err, out)
		}
		kib, err := os.ReadFile(hwm)
		if err != nil {
			b.Fatal(err)
		}
		n, err := strconv.ParseInt(string(kib), 10, 64)
		if err != nil {
			b.Fatalf("VmHWM %q: %v", kib, err)
		}
		return n << 10
	}
	for _, mode := range []string{"--json", "-q"} {
		b.Run(mode[1:], func(b *testing.B) {
			var per float64
			for b.Loop() {
				per = float64(maxRSS(many, mode)-maxRSS(one, mode)) / n
			}
			b.ReportMetric(per, "RSS-B/conn")
		})
	}
}
