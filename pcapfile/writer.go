package pcapfile

import (
	"fmt"
	"io"
	"runtime"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/zmtpdump/zmtpdump/segment"
)

// Interface is a capture interface, written as a pcapng Interface
// Description Block.
type Interface struct {
	// Name is the interface's name ("lo"); it may be empty.
	Name string
	// Index is the Segment.Ifindex of the packets seen on it.
	Index int
	// Link is the link layer its frames are rebuilt with: LinkRaw, or
	// LinkEthernet for any other value (the zero value, LinkNull,
	// included).
	Link LinkType
	// Filter is the capture filter, written as the if_filter option.
	Filter string
	// Description and Comment are written as the if_description and
	// opt_comment options ("": none): the interface of ipc:// streams
	// says there that its packets are synthesized.
	Description, Comment string
}

// WriterOptions describe the file written.
type WriterOptions struct {
	// Application names the writer in the section header (shb_userappl).
	Application string
	// Interfaces are described at the start of the file; a segment from an
	// interface not listed gets an unnamed Ethernet interface when it
	// comes.
	Interfaces []Interface
	// Comment is the section header's opt_comment ("": none).
	Comment string
}

// Writer writes captured TCP segments as a pcapng file that tcpdump and
// Wireshark read. The kernel ships only the TCP payload and the header
// fields zmtpdump needs, so each frame is rebuilt: an Ethernet header with
// zero addresses (none on raw-IP interfaces), an IPv4 or IPv6 header (TTL
// or hop limit 64, IPv4 ID 0 with DF) and a TCP header with the
// segment's window and no options, but for a SYN's window scale option
// when Segment.WScale is known, around the captured payload, with valid
// checksums.
// Timestamps have nanosecond resolution; the direction (inbound or
// outbound) is written in each packet's epb_flags when it is known. A
// payload the capture cut is written as captured with the packet's
// original length set to the full length, as with tcpdump's snapshot
// length.
//
// A Writer is not safe for concurrent use. Its frame buffer is reused from
// packet to packet.
type Writer struct {
	w     *pcapgo.NgWriter
	ids   map[int]int // Segment.Ifindex to interface ID in the file
	links []LinkType  // by interface ID
	buf   []byte
	flags pcapgo.NgEpbFlags
}

// NewWriter writes the section header and the interfaces of opts to w and
// returns a writer for the packets. Flush must be called before w is
// closed.
func NewWriter(w io.Writer, opts WriterOptions) (*Writer, error) {
	ifaces := opts.Interfaces
	if len(ifaces) == 0 {
		ifaces = []Interface{{}}
	}
	p := &Writer{ids: make(map[int]int), buf: make([]byte, 0, 2048)}
	wopts := pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{
		Application: opts.Application,
		OS:          runtime.GOOS,
		Hardware:    runtime.GOARCH,
		Comment:     opts.Comment,
	}}
	ng, err := pcapgo.NewNgWriterInterface(w, ngInterface(ifaces[0]), wopts)
	if err != nil {
		return nil, fmt.Errorf("write pcapng header: %w", err)
	}
	p.w = ng
	p.ids[ifaces[0].Index] = 0
	p.links = append(p.links, ifaces[0].written())
	for _, ifc := range ifaces[1:] {
		if _, err := p.addInterface(ifc); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// written returns the link type ifc's frames are rebuilt with:
// LinkEthernet or LinkRaw.
func (ifc *Interface) written() LinkType {
	if ifc.Link == LinkRaw {
		return LinkRaw
	}
	return LinkEthernet
}

func ngInterface(ifc Interface) pcapgo.NgInterface {
	return pcapgo.NgInterface{
		Name:                ifc.Name,
		Filter:              ifc.Filter,
		Description:         ifc.Description,
		Comment:             ifc.Comment,
		OS:                  runtime.GOOS,
		LinkType:            layers.LinkType(ifc.written()),
		TimestampResolution: 9,
	}
}

func (p *Writer) addInterface(ifc Interface) (int, error) {
	id, err := p.w.AddInterface(ngInterface(ifc))
	if err != nil {
		return 0, fmt.Errorf("write pcapng interface: %w", err)
	}
	p.ids[ifc.Index] = id
	p.links = append(p.links, ifc.written())
	return id, nil
}

// WriteSegment writes seg as one packet, or as several consecutive ones
// when its payload is more than one IP packet can say it carries (a GSO
// super-packet): each then has its share of the payload, its sequence
// number, and the flags that belong to it (SYN on the first, FIN and PSH
// on the last).
func (p *Writer) WriteSegment(seg *segment.Segment) error { return p.writeSegment(seg, "") }

// WriteSegmentComment writes seg as WriteSegment does, its first packet
// with comment as its opt_comment (what the packet is, for a person
// reading the file in Wireshark).
func (p *Writer) WriteSegmentComment(seg *segment.Segment, comment string) error {
	return p.writeSegment(seg, comment)
}

func (p *Writer) writeSegment(seg *segment.Segment, comment string) error {
	id, ok := p.ids[seg.Ifindex]
	if !ok {
		var err error
		if id, err = p.addInterface(Interface{Index: seg.Ifindex}); err != nil {
			return err
		}
	}
	link := p.links[id]
	var opts pcapgo.NgPacketOptions
	switch seg.IfDir {
	case segment.Ingress:
		p.flags.Direction = pcapgo.NgEpbFlagDirectionInbound
		opts.Flags = &p.flags
	case segment.Egress:
		p.flags.Direction = pcapgo.NgEpbFlagDirectionOutbound
		opts.Flags = &p.flags
	}
	total := max(seg.PayloadLen, len(seg.Payload))
	hdr := headersLen(link, seg)
	chunk := maxChunk(seg)
	for off := 0; ; off += chunk {
		n := min(total-off, chunk)
		flags := seg.Flags
		seq := seg.Seq + uint32(off)
		if off > 0 {
			flags &^= segment.SYN
			if seg.Flags&segment.SYN != 0 {
				seq++ // the SYN took one sequence number
			}
		}
		last := off+n >= total
		if !last {
			flags &^= segment.FIN | segment.PSH
		}
		captured := seg.Payload[min(off, len(seg.Payload)):min(off+n, len(seg.Payload))]
		p.buf = appendFrame(p.buf[:0], link, seg, seq, flags, captured, n)
		if off > 0 {
			hdr = headersLen(link, seg) - tcpOptsLen(seg) // no SYN, no option
		}
		ci := gopacket.CaptureInfo{
			Timestamp:      seg.Time,
			CaptureLength:  len(p.buf),
			Length:         hdr + n,
			InterfaceIndex: id,
		}
		popts := opts
		if off == 0 && comment != "" {
			popts.Comments = []string{comment}
		}
		if err := p.w.WritePacketWithOptions(ci, p.buf, popts); err != nil {
			return fmt.Errorf("write pcapng packet: %w", err)
		}
		if last {
			return nil
		}
	}
}

// Flush writes out the buffered blocks.
func (p *Writer) Flush() error {
	if err := p.w.Flush(); err != nil {
		return fmt.Errorf("write pcapng: %w", err)
	}
	return nil
}
