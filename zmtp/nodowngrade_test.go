package zmtp

import (
	"testing"

	"github.com/zmtpdump/zmtpdump/segment"
)

// TestNoDowngrade: a 3.x peer that meets a 2.0 one and goes on with its 3.x
// greeting instead of downgrading (go-zeromq/zmq4 speaks 3.0 only; see
// testdata/problem_unsupported_version.pcap) is decoded as 3.x: its
// minor version byte is no 2.0 socket type and its mechanism name no
// identity frame, so there is neither a PAIR socket nor a flags error.
// libzmq's downgrade (an identity frame after the socket type) still is
// one, whole or byte by byte.
func TestNoDowngrade(t *testing.T) {
	const c2s, s2c = segment.ClientToServer, segment.ServerToClient
	sig := hx("ff 00 00 00 00 00 00 00 01 7f")
	rest3 := cat(hx("03 00"), []byte("NULL"), make([]byte, 16), hx("00"), make([]byte, 31))
	server2 := cat(sig, hx("01 07 00 00"))
	for _, tt := range []struct {
		name      string
		steps     []step
		major     uint8
		down      bool
		wantError bool
	}{
		{"3.0 only, whole", []step{{c2s, sig}, {s2c, server2}, {c2s, rest3}}, 3, false, false},
		{"libzmq downgrade", []step{{c2s, sig}, {s2c, server2}, {c2s, cat(hx("03 08 00 00"), pushOne)}}, 2, true, false},
	} {
		for _, split := range []bool{false, true} {
			steps := tt.steps
			if split {
				steps = bytewise(steps)
			}
			var client *Greeting
			var errs int
			for _, e := range runConn(Options{}, steps...) {
				switch ev := e.Ev.(type) {
				case *Greeting:
					if e.Dir == c2s {
						client = ev
					}
				case *Error:
					errs++
				}
			}
			if client == nil || client.Major != tt.major || client.Downgraded != tt.down || errs != 0 {
				t.Errorf("%s (byte by byte %v): client greeting %+v, %d errors", tt.name, split, client, errs)
			}
			if client != nil && tt.major == 3 && (client.Mechanism != "NULL" || client.SocketType != "") {
				t.Errorf("%s: mechanism %q, socket type %q", tt.name, client.Mechanism, client.SocketType)
			}
		}
	}
}
