package loader

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"github.com/zmtpdump/zmtpdump/bpf"
	"github.com/zmtpdump/zmtpdump/segment"
)

func TestRecordLayout(t *testing.T) {
	var h bpf.CaptureEventHdr
	var rc bpf.CaptureRecCounts
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"ts", unsafe.Offsetof(h.TsNs), offTs},
		{"ifindex", unsafe.Offsetof(h.Ifindex), offIfindex},
		{"pkt_len", unsafe.Offsetof(h.PktLen), offPktLen},
		{"payload_len", unsafe.Offsetof(h.PayloadLen), offPayloadLen},
		{"cap_len", unsafe.Offsetof(h.CapLen), offCapLen},
		{"seq", unsafe.Offsetof(h.Seq), offSeq},
		{"ack", unsafe.Offsetof(h.Ack), offAck},
		{"saddr", unsafe.Offsetof(h.Saddr), offSaddr},
		{"daddr", unsafe.Offsetof(h.Daddr), offDaddr},
		{"sport", unsafe.Offsetof(h.Sport), offSport},
		{"dport", unsafe.Offsetof(h.Dport), offDport},
		{"family", unsafe.Offsetof(h.Family), offFamily},
		{"direction", unsafe.Offsetof(h.Direction), offDirection},
		{"flags", unsafe.Offsetof(h.TcpFlags), offFlags},
		{"piece", unsafe.Offsetof(h.Piece), offPiece},
		{"lost", unsafe.Offsetof(h.Lost), offLost},
		{"frames", unsafe.Offsetof(h.Frames), offFrames},
		{"messages", unsafe.Offsetof(h.Messages), offMessages},
		{"mark_off", unsafe.Offsetof(h.MarkOff), offMarkOff},
		{"mark", unsafe.Offsetof(h.Mark), offMark},
		{"unread", unsafe.Offsetof(h.Unread), offUnread},
		{"window", unsafe.Offsetof(h.Window), offWindow},
		{"wscale", unsafe.Offsetof(h.Wscale), offWScale},
		{"counted", unsafe.Offsetof(h.Counted), offCounted},
		{"event_hdr size", unsafe.Sizeof(h), offCMessages},
		{"messages", unsafe.Sizeof(h) + unsafe.Offsetof(rc.Messages), offCMessages},
		{"frames", unsafe.Sizeof(h) + unsafe.Offsetof(rc.Frames), offCFrames},
		{"bytes", unsafe.Sizeof(h) + unsafe.Offsetof(rc.Bytes), offCBytes},
		{"cmds", unsafe.Sizeof(h) + unsafe.Offsetof(rc.Cmds), offCCmds},
		{"unnamed", unsafe.Sizeof(h) + unsafe.Offsetof(rc.Unnamed), offCUnnamed},
		{"size", unsafe.Sizeof(h), hdrLen},
		{"size in count mode", unsafe.Sizeof(h) + unsafe.Sizeof(rc), hdrLenCount},
	} {
		if c.got != c.want {
			t.Errorf("%s: offset %d in the generated struct, %d in the decoder", c.name, c.got, c.want)
		}
	}
}

func TestDecodeRecord(t *testing.T) {
	rec := make([]byte, hdrLen+3)
	le := binary.LittleEndian
	le.PutUint64(rec[offTs:], 1500)
	le.PutUint32(rec[offIfindex:], 1)
	le.PutUint32(rec[offPktLen:], 69)
	le.PutUint32(rec[offPayloadLen:], 3)
	le.PutUint32(rec[offCapLen:], 3)
	le.PutUint32(rec[offSeq:], 0xfffffff0)
	le.PutUint32(rec[offAck:], 7)
	copy(rec[offSaddr:], []byte{127, 0, 0, 1})
	copy(rec[offDaddr:], []byte{127, 0, 0, 2})
	le.PutUint16(rec[offSport:], 47563)
	le.PutUint16(rec[offDport:], 7001)
	rec[offFamily] = 4
	rec[offDirection] = 1
	rec[offFlags] = segment.ACK | segment.PSH
	le.PutUint64(rec[offLost:], 42)
	le.PutUint16(rec[offWindow:], 0xbeef)
	rec[offWScale] = wscaleNone
	copy(rec[hdrLen:], []byte{0, 1, '1'})

	base := time.Unix(1000, 0)
	var seg segment.Segment
	if err := decodeRecord(rec, base, false, &seg); err != nil {
		t.Fatal(err)
	}
	if want := base.Add(1500); !seg.Time.Equal(want) {
		t.Errorf("time %v, want %v", seg.Time, want)
	}
	if seg.Src != netip.MustParseAddrPort("127.0.0.1:47563") || seg.Dst != netip.MustParseAddrPort("127.0.0.2:7001") {
		t.Errorf("endpoints %v > %v", seg.Src, seg.Dst)
	}
	if seg.Seq != 0xfffffff0 || seg.Ack != 7 || seg.IfDir != segment.Egress || seg.Flags != segment.ACK|segment.PSH {
		t.Errorf("header fields %+v", seg)
	}
	if seg.KernelLost != 42 {
		t.Errorf("kernel lost count %d, want 42", seg.KernelLost)
	}
	if seg.Window != 0xbeef || seg.WScale != -1 {
		t.Errorf("window %#x, scale %d; want 0xbeef, -1 (no option)", seg.Window, seg.WScale)
	}
	if string(seg.Payload) != "\x00\x011" || seg.PayloadLen != 3 || seg.PacketLen != 69 {
		t.Errorf("payload %q (%d of %d)", seg.Payload, len(seg.Payload), seg.PayloadLen)
	}

	// A record that claims more payload than it holds is refused.
	le.PutUint32(rec[offCapLen:], 4)
	if err := decodeRecord(rec, base, false, &seg); !errors.Is(err, errShortRecord) {
		t.Errorf("overlong cap_len: err %v, want errShortRecord", err)
	}
	if err := decodeRecord(rec[:10], base, false, &seg); !errors.Is(err, errShortRecord) {
		t.Errorf("short record: err %v, want errShortRecord", err)
	}
}

func TestDecodeRecordMark(t *testing.T) {
	rec := make([]byte, hdrLen+4)
	le := binary.LittleEndian
	le.PutUint32(rec[offPayloadLen:], 4)
	le.PutUint32(rec[offCapLen:], 4)
	rec[offFamily] = 6
	le.PutUint64(rec[offFrames:], 1<<40+3)
	le.PutUint64(rec[offMessages:], 1<<33+1)
	le.PutUint32(rec[offMarkOff:], 2)
	var seg segment.Segment
	seg.Boundary.Valid = true // left over from the segment before
	if err := decodeRecord(rec, time.Time{}, false, &seg); err != nil {
		t.Fatal(err)
	}
	if seg.Boundary != (segment.Boundary{}) {
		t.Errorf("no mark bit: boundary %+v, want none", seg.Boundary)
	}
	rec[offMark] = markValid
	if err := decodeRecord(rec, time.Time{}, false, &seg); err != nil {
		t.Fatal(err)
	}
	if want := (segment.Boundary{Valid: true, Offset: 2, Frames: 1<<40 + 3, Messages: 1<<33 + 1}); seg.Boundary != want {
		t.Errorf("boundary %+v, want %+v", seg.Boundary, want)
	}
	rec[offMark] = markValid | markMsgStart
	if err := decodeRecord(rec, time.Time{}, false, &seg); err != nil || !seg.Boundary.MessageStart {
		t.Errorf("message start: %+v, %v", seg.Boundary, err)
	}
	// A mark past the payload it describes is refused.
	le.PutUint32(rec[offMarkOff:], 4)
	if err := decodeRecord(rec, time.Time{}, false, &seg); !errors.Is(err, errBadMark) {
		t.Errorf("mark at the payload's end: err %v, want errBadMark", err)
	}
}

// TestDecodeRecordWScale checks the window scale shift of a SYN's record:
// the kernel's WSCALE_NONE is -1, a shift above 14 counts as 14 (RFC 7323
// section 2.3).
func TestDecodeRecordWScale(t *testing.T) {
	rec := make([]byte, hdrLen)
	rec[offFamily] = 4
	rec[offFlags] = segment.SYN
	for _, c := range []struct {
		raw  byte
		want int8
	}{{wscaleNone, -1}, {0, 0}, {7, 7}, {14, 14}, {15, 14}, {0xfe, 14}} {
		rec[offWScale] = c.raw
		var seg segment.Segment
		if err := decodeRecord(rec, time.Time{}, false, &seg); err != nil {
			t.Fatal(err)
		}
		if seg.WScale != c.want || seg.Window != 0 {
			t.Errorf("wscale byte %#x: WScale %d, window %d; want %d, 0", c.raw, seg.WScale, seg.Window, c.want)
		}
	}
}
