package session

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/flows"
	"github.com/zmtpdump/zmtpdump/output"
	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// TestSessionSkip feeds a session directly: a cut segment inside a frame
// body prints no gap line and counts no gap, and a connection picked up
// mid-stream whose first bytes were not captured searches for a boundary,
// printing nothing but its summary.
func TestSessionSkip(t *testing.T) {
	cli, srv := netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:7001")
	seg := &segment.Segment{Time: time.Unix(1, 0)}
	for _, mid := range []bool{false, true} {
		var buf bytes.Buffer
		out := newSink(output.NewText(&buf, output.Options{Location: time.UTC}))
		out.collect = true
		s := newSession(&flows.Conn{Client: cli, Server: srv, MidStream: mid}, out, zmtp.Options{}, nil)
		if !mid {
			s.Data(segment.ClientToServer, greeting, seg)
			s.Data(segment.ClientToServer, []byte{0x02, 0, 0, 0, 0, 0, 0x10, 0, 0, 'a', 'b'}, seg) // a 1 MiB frame
		}
		s.Skip(segment.ClientToServer, 1<<20-2, seg)
		s.Close(segment.Finished, seg)
		if err := out.flush(); err != nil {
			t.Fatal(err)
		}
		got := buf.String()
		var want string
		if mid {
			// Nothing to decode yet: the direction searches for a
			// boundary, and the summary says it joined.
			want = "version unknown, joined mid-connection, 0 messages ->"
		} else {
			want = `message: "ab" 61 62 ... (1048576 bytes, 2 shown)`
		}
		if !strings.Contains(got, want) || strings.Contains(got, "gap") || strings.Contains(got, "not captured") {
			t.Errorf("mid-stream %v: want %q, no gap, in\n%s", mid, want, got)
		}
		convs := out.conversations()
		if len(convs) != 1 || convs[0].Gaps != [2]uint64{} || convs[0].Lost != [2]uint64{} {
			t.Errorf("mid-stream %v: conversations %+v", mid, convs)
		}
	}
}

// greeting is a ZMTP 3.1 NULL greeting.
var greeting = append(append([]byte{0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 1, 'N', 'U', 'L', 'L'}, make([]byte, 16)...), make([]byte, 32)...)
