package accuracy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// packet is one captured frame and what the harness needs of its TCP
// header.
type packet struct {
	ci   gopacket.CaptureInfo
	data []byte // the whole frame as captured, written back unchanged
	// dir names the direction as zmtpdump's JSON does: "src>dst", each
	// endpoint "ip:port" ("[ip]:port" for IPv6).
	dir      string
	seq, ack uint32
	syn, rst bool
	ackFlag  bool
	payload  int // TCP payload bytes captured
}

// reverse is the direction opposite to dir.
func reverse(dir string) string {
	for i := 0; i < len(dir); i++ {
		if dir[i] == '>' {
			return dir[i+1:] + ">" + dir[:i]
		}
	}
	return dir
}

// capture is a pcap file read into memory.
type capture struct {
	name     string
	linkType layers.LinkType
	snaplen  uint32
	packets  []packet
}

// readCapture reads the pcap file at path. Packets that are not TCP are an
// error: the captures hold one connection and nothing else.
func readCapture(path string) (*capture, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read capture: %w", err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("read capture %s: %w", path, err)
	}
	c := &capture{name: path, linkType: r.LinkType(), snaplen: r.Snaplen()}
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read capture %s, packet %d: %w", path, len(c.packets)+1, err)
		}
		p, err := parsePacket(data, ci, c.linkType)
		if err != nil {
			return nil, fmt.Errorf("read capture %s, packet %d: %w", path, len(c.packets)+1, err)
		}
		c.packets = append(c.packets, p)
	}
	return c, nil
}

// parsePacket decodes the addresses and TCP header of one frame.
func parsePacket(data []byte, ci gopacket.CaptureInfo, lt layers.LinkType) (packet, error) {
	pk := gopacket.NewPacket(data, lt, gopacket.NoCopy)
	if el := pk.ErrorLayer(); el != nil {
		return packet{}, fmt.Errorf("decode: %w", el.Error())
	}
	var src, dst net.IP
	switch ip := pk.NetworkLayer().(type) {
	case *layers.IPv4:
		src, dst = ip.SrcIP, ip.DstIP
	case *layers.IPv6:
		src, dst = ip.SrcIP, ip.DstIP
	default:
		return packet{}, errors.New("not IPv4 or IPv6")
	}
	tcp, ok := pk.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if !ok {
		return packet{}, errors.New("not TCP")
	}
	s := net.JoinHostPort(src.String(), strconv.Itoa(int(tcp.SrcPort)))
	d := net.JoinHostPort(dst.String(), strconv.Itoa(int(tcp.DstPort)))
	return packet{
		ci: ci, data: data, dir: s + ">" + d,
		seq: tcp.Seq, ack: tcp.Ack, syn: tcp.SYN, rst: tcp.RST, ackFlag: tcp.ACK,
		payload: len(tcp.Payload),
	}, nil
}

// write writes the packets of c that keep marks (all of them if keep is
// nil) to a new pcap file at path, unchanged, with c's link type.
func (c *capture) write(path string, keep []bool) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write variant: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("write variant %s: %w", path, cerr)
		}
	}()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(c.snaplen, c.linkType); err != nil {
		return fmt.Errorf("write variant %s: %w", path, err)
	}
	for i := range c.packets {
		if keep != nil && !keep[i] {
			continue
		}
		if err := w.WritePacket(c.packets[i].ci, c.packets[i].data); err != nil {
			return fmt.Errorf("write variant %s, packet %d: %w", path, i+1, err)
		}
	}
	return nil
}
