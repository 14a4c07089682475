package pcapfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/zmtpdump/zmtpdump/segment"
)

// ErrCorrupt marks a capture file that is not a valid pcap or pcapng file or
// is damaged.
var ErrCorrupt = errors.New("corrupt capture file")

// maxSnaplen is the longest packet record taken from a pcap file: libpcap's
// MAXIMUM_SNAPLEN, the most tcpdump itself captures or reads back. A file
// header may declare a larger snapshot length (up to 4 GiB); records longer
// than this are refused as corrupt instead of being read into memory.
const maxSnaplen = 262144

// packetSource is what pcapgo's pcap and pcapng readers share.
type packetSource interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// Reader yields the TCP segments of a capture file.
type Reader struct {
	f        *os.File
	name     string
	src      packetSource
	linkType LinkType // of a pcap file; -1 for pcapng, whose packets carry theirs
	ng       bool
	packets  int
	err      error // the error Next returned, returned again by later calls
	filter   func(lt LinkType, frame []byte) (bool, error)
	// Skipped counts frames that held no readable TCP segment.
	Skipped int
	// Filtered counts TCP segments the filter set with SetFilter refused.
	Filtered int
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

func newReader(rd io.Reader, name string) (r *Reader, err error) {
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("%s: %w: unreadable header: %v", name, ErrCorrupt, p)
		}
	}()
	br := bufio.NewReaderSize(rd, 1<<16)
	magic, err := br.Peek(4)
	if err != nil {
		if !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read capture file %s: %w", name, err)
		}
		return nil, fmt.Errorf("%s: %w: too short for a pcap header", name, ErrCorrupt)
	}
	r = &Reader{name: name}
	if magic[0] == 0x0a && magic[1] == 0x0d && magic[2] == 0x0d && magic[3] == 0x0a {
		ng, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true, SkipUnknownVersion: true})
		if err != nil {
			return nil, headerErr(name, err)
		}
		r.src, r.ng, r.linkType = ng, true, -1
	} else {
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return nil, headerErr(name, err)
		}
		r.src, r.linkType = pr, LinkType(pr.LinkType())
		if !r.linkType.Supported() {
			return nil, fmt.Errorf("%s: link type %d is not supported", name, r.linkType)
		}
		// pcapgo accepts records up to the file's snapshot length, which a
		// damaged or hostile header may set to 4 GiB.
		if pr.Snaplen() > maxSnaplen {
			pr.SetSnaplen(maxSnaplen)
		}
	}
	return r, nil
}

// headerErr turns an error of pcapgo reading a file header into the error
// Open returns.
func headerErr(name string, err error) error {
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s: %w: truncated file header", name, ErrCorrupt)
	}
	return fmt.Errorf("%s: %w: %w", name, ErrCorrupt, err)
}

// Next fills seg with the next TCP segment of the file, skipping frames that
// hold none. seg.Payload is valid until the next call. At the end of the file
// Next returns io.EOF; a damaged or truncated file gives an error wrapping
// ErrCorrupt. seg is left alone when Next returns an error, and once Next
// has returned an error it returns it again.
func (r *Reader) Next(seg *segment.Segment) error {
	if r.err != nil {
		return r.err
	}
	for {
		data, ci, err := r.read()
		if err != nil {
			r.err = r.wrapErr(err, ci)
			return r.err
		}
		r.packets++
		lt := r.linkType
		if r.ng {
			lt = -1
			if len(ci.AncillaryData) > 0 {
				if l, ok := linkTypeOf(ci.AncillaryData[0]); ok {
					lt = l
				}
			}
		}
		pktLen := ci.Length
		if pktLen < len(data) { // a pcapng record claiming less than it holds
			pktLen = len(data)
		}
		s := segment.Segment{Time: ci.Timestamp, Ifindex: ci.InterfaceIndex, IfDir: segment.Unknown, PacketLen: pktLen}
		if err := parseFrame(lt, data, &s); err != nil {
			r.Skipped++
			continue
		}
		if r.filter != nil {
			ok, err := r.filter(lt, data)
			if err != nil {
				r.err = fmt.Errorf("%s: %w", r.name, err)
				return r.err
			}
			if !ok {
				r.Filtered++
				continue
			}
		}
		*seg = s
		return nil
	}
}

// read reads one packet record, turning a panic in pcapgo on a hostile file
// into an error.
func (r *Reader) read() (data []byte, ci gopacket.CaptureInfo, err error) {
	defer func() {
		if p := recover(); p != nil {
			data, err = nil, fmt.Errorf("unreadable packet record: %v", p)
		}
	}()
	return r.src.ZeroCopyReadPacketData()
}

// wrapErr turns an error of pcapgo into the error Next returns.
func (r *Reader) wrapErr(err error, ci gopacket.CaptureInfo) error {
	if err == io.EOF && ci.CaptureLength == 0 {
		return io.EOF
	}
	// pcapgo's pcap reader gives io.EOF, not io.ErrUnexpectedEOF, when a
	// record header is whole but not one byte of its packet data follows.
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s: %w: truncated after packet %d", r.name, ErrCorrupt, r.packets)
	}
	return fmt.Errorf("%s: %w after packet %d: %w", r.name, ErrCorrupt, r.packets, err)
}

// SetFilter makes Next yield only the segments whose whole frame f
// accepts; lt is the frame's link type (a pcap LINKTYPE_ value). An error
// from f stops the reading and is returned by Next.
func (r *Reader) SetFilter(f func(lt LinkType, frame []byte) (bool, error)) { r.filter = f }

// Close closes the file. Next then returns an error wrapping os.ErrClosed.
func (r *Reader) Close() error {
	if r.err == nil {
		r.err = fmt.Errorf("%s: %w", r.name, os.ErrClosed)
	}
	if r.f == nil {
		return nil
	}
	f := r.f
	r.f = nil
	return f.Close()
}
