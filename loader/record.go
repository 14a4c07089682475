package loader

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
)

// Offsets of the fields of struct event_hdr in bpf/capture.c. TestRecordLayout
// checks them against the bpf2go-generated struct.
const (
	offTs         = 0
	offIfindex    = 8
	offPktLen     = 12
	offPayloadLen = 16
	offCapLen     = 20
	offSeq        = 24
	offAck        = 28
	offSaddr      = 32
	offDaddr      = 48
	offSport      = 64
	offDport      = 66
	offFamily     = 68
	offDirection  = 69
	offFlags      = 70
	offPiece      = 71
	offLost       = 72
	offFrames     = 80
	offMessages   = 88
	offMarkOff    = 96
	offMark       = 100
	offUnread     = 101
	offWindow     = 102
	offWScale     = 104
	offCounted    = 105
	offCMessages  = 112
	offCFrames    = 120
	offCBytes     = 128
	offCCmds      = 136
	offCUnnamed   = 152
	// hdrLen is a record's length before its payload: event_hdr, then in
	// count mode's build (CaptureCount) rec_counts (hdrLenCount).
	hdrLen      = 112
	hdrLenCount = 160
)

// event_hdr.counted bits (COUNT_VALID, COUNT_WHOLE in bpf/capture.c).
const (
	countValid = 0x01
	countWhole = 0x02
)

// wscaleNone is event_hdr.wscale when a segment carries no window scale
// option (WSCALE_NONE in bpf/capture.c).
const wscaleNone = 0xff

// event_hdr.mark bits (MARK_VALID, MARK_MSG_START in bpf/capture.c).
const (
	markValid    = 0x01
	markMsgStart = 0x02
)

// maxWScale is the largest window scale shift (RFC 7323 section 2.3); the
// kernel caps the shift it ships at it already.
const maxWScale = 14

// errShortRecord reports a ring-buffer record that does not hold what its
// header claims.
var errShortRecord = errors.New("short ring buffer record")

// errBadMark reports a record whose frame boundary mark lies outside the
// payload bytes it holds.
var errBadMark = errors.New("ring buffer record with a mark outside its payload")

// decodeRecord fills seg from one ring-buffer record. seg.Payload aliases
// rec. base converts the kernel's monotonic timestamp to wall-clock time.
// counted: the record is count mode's build's, its counts after the header.
func decodeRecord(rec []byte, base time.Time, counted bool, seg *segment.Segment) error {
	hdrLen := hdrLen
	if counted {
		hdrLen = hdrLenCount
	}
	if len(rec) < hdrLen {
		return fmt.Errorf("%w: %d bytes", errShortRecord, len(rec))
	}
	le := binary.LittleEndian
	capLen := int(le.Uint32(rec[offCapLen:]))
	unread := 0
	if rec[offUnread] != 0 {
		// The kernel could not read the capLen bytes: none follow.
		unread, capLen = capLen, 0
	}
	if capLen > len(rec)-hdrLen {
		return fmt.Errorf("%w: header claims %d payload bytes, record holds %d", errShortRecord, capLen, len(rec)-hdrLen)
	}
	seg.Time = base.Add(time.Duration(le.Uint64(rec[offTs:])))
	seg.Ifindex = int(le.Uint32(rec[offIfindex:]))
	seg.PacketLen = int(le.Uint32(rec[offPktLen:]))
	seg.PayloadLen = int(le.Uint32(rec[offPayloadLen:]))
	seg.Seq = le.Uint32(rec[offSeq:])
	seg.Ack = le.Uint32(rec[offAck:])
	sport, dport := le.Uint16(rec[offSport:]), le.Uint16(rec[offDport:])
	switch rec[offFamily] {
	case 4:
		seg.Src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(rec[offSaddr:offSaddr+4])), sport)
		seg.Dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(rec[offDaddr:offDaddr+4])), dport)
	case 6:
		seg.Src = netip.AddrPortFrom(netip.AddrFrom16([16]byte(rec[offSaddr:offSaddr+16])), sport)
		seg.Dst = netip.AddrPortFrom(netip.AddrFrom16([16]byte(rec[offDaddr:offDaddr+16])), dport)
	default:
		return fmt.Errorf("ring buffer record with address family %d", rec[offFamily])
	}
	switch rec[offDirection] {
	case 0:
		seg.IfDir = segment.Ingress
	case 1:
		seg.IfDir = segment.Egress
	default:
		seg.IfDir = segment.Unknown
	}
	seg.Flags = rec[offFlags]
	seg.Window = le.Uint16(rec[offWindow:])
	seg.WScale = -1
	if ws := rec[offWScale]; ws != wscaleNone {
		seg.WScale = int8(min(ws, maxWScale))
	}
	seg.Piece = rec[offPiece] != 0
	seg.KernelLost = le.Uint64(rec[offLost:])
	seg.Boundary = segment.Boundary{}
	if m := rec[offMark]; m&markValid != 0 {
		off := le.Uint32(rec[offMarkOff:])
		if int64(off) >= int64(capLen) {
			return fmt.Errorf("%w: offset %d of %d bytes", errBadMark, off, capLen)
		}
		seg.Boundary = segment.Boundary{
			Valid:        true,
			MessageStart: m&markMsgStart != 0,
			Offset:       off,
			Frames:       le.Uint64(rec[offFrames:]),
			Messages:     le.Uint64(rec[offMessages:]),
		}
	}
	seg.Counts = segment.Counts{Whole: rec[offCounted]&countWhole != 0}
	if c := rec[offCounted]; c&countValid != 0 && counted {
		seg.Counts = segment.Counts{
			Valid:    true,
			Whole:    c&countWhole != 0,
			Messages: le.Uint64(rec[offCMessages:]),
			Frames:   le.Uint64(rec[offCFrames:]),
			Bytes:    le.Uint64(rec[offCBytes:]),
			Commands: [4]uint64{uint64(le.Uint32(rec[offCCmds:])), uint64(le.Uint32(rec[offCCmds+4:])),
				uint64(le.Uint32(rec[offCCmds+8:])), uint64(le.Uint32(rec[offCCmds+12:]))},
			Unnamed: uint64(le.Uint32(rec[offCUnnamed:])),
		}
	}
	seg.Payload = rec[hdrLen : hdrLen+capLen]
	if unread > 0 {
		markUnread(seg, unread)
	}
	return nil
}

// markUnread turns seg, whose first n payload bytes the kernel could not
// read, into a segment of the rest: the kernel counted the record lost, so
// the assembler declares the n bytes before it lost, a gap of exactly n
// bytes, instead of bytes not captured (a snap cut, which is no loss). A
// SYN's data (TCP Fast Open) cannot move past the SYN: it is dropped, and
// found missing later.
func markUnread(seg *segment.Segment, n int) {
	n = min(n, seg.PayloadLen)
	if seg.Flags&segment.SYN != 0 {
		seg.PayloadLen = 0
		return
	}
	seg.Seq += uint32(n)
	seg.PayloadLen -= n
	seg.PacketLen = max(seg.PacketLen-n, 0)
	seg.Piece = true
}
