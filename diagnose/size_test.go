package diagnose

import (
	"testing"
	"unsafe"
)

// TestConnSize holds the sizes the Conn's doc comment states, on 64-bit
// platforms: what every open connection costs (a Conn of 256 bytes, one
// allocation of its size class), and the state allocated only by the
// connections that need it.
func TestConnSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("sizes are stated for 64-bit platforms")
	}
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"Conn", unsafe.Sizeof(Conn{}), 192},
		{"side", unsafe.Sizeof(side{}), 48},
		{"heartbeat", unsafe.Sizeof(heartbeat{}), 128},
		{"handshake", unsafe.Sizeof(handshake{}), 72},
		{"stall", unsafe.Sizeof(stall{}), 40},
	} {
		if c.got > c.want {
			t.Errorf("%s is %d bytes, want at most %d (update the doc comment of Conn if it must grow)", c.name, c.got, c.want)
		}
	}
}
