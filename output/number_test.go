package output

import (
	"math"
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
