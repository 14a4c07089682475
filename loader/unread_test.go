package loader

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtpdump/zmtpdump/flows"
	"github.com/zmtpdump/zmtpdump/segment"
)

// testRecord is a ring-buffer record from 127.0.0.1:40000 to
// 127.0.0.2:7001: payload follows unless unread, when the record only says
// that capLen bytes could not be read.
func testRecord(seq uint32, flags uint8, payloadLen int, payload string, unread bool, lost uint64) []byte {
	capLen := len(payload)
	rec := make([]byte, hdrLen, hdrLen+capLen)
	le := binary.LittleEndian
	le.PutUint32(rec[offPktLen:], uint32(54+payloadLen))
	le.PutUint32(rec[offPayloadLen:], uint32(payloadLen))
	le.PutUint32(rec[offCapLen:], uint32(capLen))
	le.PutUint32(rec[offSeq:], seq)
	copy(rec[offSaddr:], []byte{127, 0, 0, 1})
	copy(rec[offDaddr:], []byte{127, 0, 0, 2})
	le.PutUint16(rec[offSport:], 40000)
	le.PutUint16(rec[offDport:], 7001)
	rec[offFamily] = 4
	rec[offFlags] = flags
	le.PutUint64(rec[offLost:], lost)
	if unread {
		rec[offUnread] = 1
		return rec
	}
	return append(rec, payload...)
}

// streamLog records what a flows consumer is told of the client's stream.
type streamLog struct{ calls *[]string }

func (l streamLog) Data(d segment.Dir, p []byte, _ *segment.Segment) {
	*l.calls = append(*l.calls, fmt.Sprintf("data %q", p))
}
func (l streamLog) Gap(d segment.Dir, n uint64, _ *segment.Segment) {
	*l.calls = append(*l.calls, fmt.Sprintf("gap %d", n))
}
func (l streamLog) Skip(d segment.Dir, n uint64, _ *segment.Segment) {
	*l.calls = append(*l.calls, fmt.Sprintf("skip %d", n))
}
func (l streamLog) Stall(segment.Dir, bool, *segment.Segment)   {}
func (l streamLog) Close(segment.CloseReason, *segment.Segment) {}

// TestUnreadRecordIsALoss: a record whose payload the kernel could not read
// (bpf_skb_load_bytes failed) reaches the streams as a gap of exactly its
// unread bytes, not as bytes not captured (a snap cut); when kernel framing
// meant to leave the rest of its span out, that rest is still skipped.
func TestUnreadRecordIsALoss(t *testing.T) {
	const ack = segment.ACK
	recs := [][]byte{
		testRecord(1000, segment.SYN, 0, "", false, 0),
		testRecord(1001, ack|segment.PSH, 3, "abc", false, 0),
		testRecord(1004, ack|segment.PSH, 100, string(make([]byte, 100)), true, 1), // unread: lost
		testRecord(1104, ack|segment.PSH, 3, "xyz", false, 1),
		testRecord(1107, ack, 500, string(make([]byte, 40)), true, 2), // a piece: 40 kept bytes unread, 460 left out
		testRecord(1607, ack|segment.PSH, 2, "ok", false, 2),
	}
	var calls []string
	a := flows.New(flows.Config{}, func(c *flows.Conn) flows.Consumer { return streamLog{&calls} })
	for i, rec := range recs {
		var seg segment.Segment
		if err := decodeRecord(rec, time.Time{}, false, &seg); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if len(seg.Payload) > 0 && rec[offUnread] != 0 {
			t.Errorf("record %d: unread, but %d payload bytes", i, len(seg.Payload))
		}
		a.Add(&seg)
	}
	want := []string{`data "abc"`, "gap 100", `data "xyz"`, "gap 40", "skip 460", `data "ok"`}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("the client's stream (-want +got):\n%s", diff)
	}
}
