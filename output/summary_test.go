package output

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

func TestWriteConversations(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	id := []byte("id")
	late := zmtp.Connection{End: segment.Reset, Sides: [2]zmtp.Side{
		{Greeted: true, Major: 3, Minor: 1, Mechanism: "NULL", SocketType: "DEALER", Messages: 2, MessageBytes: 10, Identity: id},
		{Greeted: true, Major: 3, Minor: 0, Mechanism: "NULL", SocketType: "ROUTER", Messages: 1, MessageBytes: 5, Err: errors.New("bad \x01 flags")},
	}}
	early := zmtp.Connection{End: segment.Flushed, Sides: [2]zmtp.Side{
		{},
		{Greeted: true, Major: 3, Minor: 1, Mechanism: "CURVE"},
	}}
	joinedLate := zmtp.Connection{End: segment.Finished, Sides: [2]zmtp.Side{
		{Joined: true, Major: 3, Minor: 1, SocketType: "SUB|XSUB", Inferred: zmtp.InferredVersion | zmtp.InferredMinor | zmtp.InferredSocketType, Messages: 4, MessageBytes: 8, Resyncs: 2},
		{Joined: true, Resyncs: 1},
	}}
	convs := []Conversation{
		NewConversation(netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:7001"), t0.Add(1500*time.Millisecond), t0.Add(2*time.Second), &late),
		NewConversation(netip.MustParseAddrPort("[::1]:40001"), netip.MustParseAddrPort("[::1]:7002"), t0, t0.Add(time.Microsecond), &early),
		NewConversation(netip.MustParseAddrPort("127.0.0.1:40002"), netip.MustParseAddrPort("127.0.0.1:7003"), t0.Add(3*time.Second), t0.Add(4*time.Second), &joinedLate),
	}
	convs[0].Gaps, convs[0].Lost = [2]uint64{1, 2}, [2]uint64{100, 20}
	id[0] = 'X' // the conversation kept its own copy
	if got := string(convs[0].Summary.Sides[0].Identity); got != "id" {
		t.Errorf("identity not copied: %q", got)
	}
	var buf bytes.Buffer
	if err := WriteConversations(&buf, convs); err != nil {
		t.Fatal(err)
	}
	want := `ZMTP conversations: 3
Client           Server          Sockets           Version  Mechanism  Msgs ->  Bytes ->  Msgs <-  Bytes <-     Start  Duration  Errors  Gaps  Lost  Resyncs  End
[::1]:40001      [::1]:7002      ? -> ?            3.1      CURVE            0         0        0         0  0.000000  0.000001       0     0     0        0  capture ended
127.0.0.1:40000  127.0.0.1:7001  DEALER -> ROUTER  3.1/3.0  NULL             2        10        1         5  1.500000  0.500000       1     3   120        0  reset
127.0.0.1:40002  127.0.0.1:7003  SUB|XSUB -> ?     3.1*     -                4         8        0         0  3.000000  1.000000       0     0     0        3  closed
Joined mid-connection (greetings not seen; * marks what the traffic proved):
  127.0.0.1:40002 > 127.0.0.1:7003: client: version, socket_type; server: nothing
Errors:
  127.0.0.1:7001 > 127.0.0.1:40000: bad \x01 flags
`
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("-want +got:\n%s", diff)
	}

	buf.Reset()
	if err := WriteConversations(&buf, nil); err != nil || buf.String() != "ZMTP conversations: 0\n" {
		t.Errorf("no conversations: %q, %v", buf.String(), err)
	}
}
