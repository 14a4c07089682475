package output

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestAppendUint: appendUint writes what strconv.AppendUint does.
func TestAppendUint(t *testing.T) {
	for _, v := range []uint64{0, 1, 9, 10, 11, 63, 64, 99, 100, 101, 999, 1000, 1 << 32, math.MaxUint64} {
		if got, want := string(appendUint([]byte("x"), v)), "x"+strconv.FormatUint(v, 10); got != want {
			t.Errorf("appendUint(%d) = %q, want %q", v, got, want)
		}
	}
}

// TestOffsetDigits: offsets are written as strconv writes them, whatever
// came before: every offset up to 30,000 in turn, random steps forwards
// and backwards, across the digits kept (9,999 to 10,000, 19,999 to
// 20,000) and up to the largest.
func TestOffsetDigits(t *testing.T) {
	var o offsetDigits
	check := func(v uint64) {
		t.Helper()
		if got, want := string(o.append([]byte("x"), v)), "x"+strconv.FormatUint(v, 10); got != want {
			t.Fatalf("offset %d = %q, want %q", v, got, want)
		}
	}
	for v := range uint64(30000) {
		check(v)
	}
	r := rand.New(rand.NewPCG(1, 2))
	v := uint64(0)
	for range 200000 {
		switch r.IntN(10) {
		case 0:
			v = r.Uint64()
		case 1:
			v -= min(v, uint64(r.IntN(30000)))
		default:
			v += uint64(r.IntN(300))
		}
		check(v)
	}
	for _, v := range []uint64{9999, 10000, 19999, 20000, 99999999, 100000000, math.MaxUint64 - 1, math.MaxUint64} {
		check(v)
		check(v - 1)
		check(v)
	}
}

func BenchmarkOffsetDigits(b *testing.B) {
	var o offsetDigits
	buf := make([]byte, 0, 64)
	v := uint64(123456789)
	for b.Loop() {
		v += 66
		buf = o.append(buf[:0], v)
	}
}

func BenchmarkStrconvOffset(b *testing.B) {
	buf := make([]byte, 0, 64)
	v := uint64(123456789)
	for b.Loop() {
		v += 66
		buf = strconv.AppendUint(buf[:0], v, 10)
	}
}
