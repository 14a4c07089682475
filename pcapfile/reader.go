package pcapfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/zmtpdump/zmtpdump/capture"
)

// ErrCorrupt marks a capture file that is not a valid pcap or pcapng file or
// is damaged.
var ErrCorrupt = errors.New("corrupt capture file")

// packetSource is what pcapgo's pcap and pcapng readers share.
type packetSource interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// Reader yields the TCP segments of a capture file.
type Reader struct {
	f        *os.File
	name     string
	src      packetSource
	linkType int
	ng       *pcapgo.NgReader
	packets  int
	// Skipped counts frames that held no readable TCP segment.
	Skipped int
}

// Open opens a pcap or pcapng file; the format is told by its magic number.
func Open(name string) (*Reader, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open capture file: %w", err)
	}
	r, err := newReader(f, name)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.f = f
	return r, nil
}

func newReader(rd io.Reader, name string) (*Reader, error) {
	br := bufio.NewReaderSize(rd, 1<<16)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: too short for a pcap header", name, ErrCorrupt)
	}
	r := &Reader{name: name}
	if magic[0] == 0x0a && magic[1] == 0x0d && magic[2] == 0x0d && magic[3] == 0x0a {
		ng, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true, SkipUnknownVersion: true})
		if err != nil {
			return nil, fmt.Errorf("%s: %w: %w", name, ErrCorrupt, err)
		}
		r.src, r.ng, r.linkType = ng, ng, int(ng.LinkType())
	} else {
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: %w: %w", name, ErrCorrupt, err)
		}
		r.src, r.linkType = pr, int(pr.LinkType())
		if !supportedLink(r.linkType) {
			return nil, fmt.Errorf("%s: link type %d is not supported", name, r.linkType)
		}
	}
	return r, nil
}

// Next fills seg with the next TCP segment of the file, skipping frames that
// hold none. seg.Payload is valid until the next call. At the end of the file
// Next returns io.EOF; a damaged or truncated file gives an error wrapping
// ErrCorrupt.
func (r *Reader) Next(seg *capture.Segment) error {
	for {
		data, ci, err := r.src.ZeroCopyReadPacketData()
		if err == io.EOF {
			return io.EOF
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("%s: %w: truncated after packet %d", r.name, ErrCorrupt, r.packets)
			}
			return fmt.Errorf("%s: %w after packet %d: %w", r.name, ErrCorrupt, r.packets, err)
		}
		r.packets++
		lt := r.linkType
		if r.ng != nil && len(ci.AncillaryData) > 0 {
			if l, ok := linkTypeOf(ci.AncillaryData[0]); ok {
				lt = l
			}
		}
		*seg = capture.Segment{Time: ci.Timestamp, Ifindex: ci.InterfaceIndex, Dir: capture.Unknown, PacketLen: ci.Length}
		if err := parseFrame(lt, data, seg); err != nil {
			r.Skipped++
			continue
		}
		return nil
	}
}

// Close closes the file.
func (r *Reader) Close() error {
	if r.f == nil {
		return nil
	}
	return r.f.Close()
}
