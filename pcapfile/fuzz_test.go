package pcapfile

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/zmtpdump/zmtpdump/segment"
)

var le = binary.LittleEndian

// maxSeed is the longest prefix of a real capture used as a fuzz seed.
const maxSeed = 16 << 10

// readerSeeds returns capture files for FuzzReader to start from.
func readerSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, c := range captures {
		data := readTestdata(t, c.file)
		seeds = append(seeds, data[:min(len(data), maxSeed)])
	}
	// One small file per link type, and a mixed pcapng file.
	var mixed []ngFrame
	for _, tc := range frameCases() {
		if tc.lt.Supported() && tc.want != nil && len(tc.frame) < 100 {
			seeds = append(seeds, pcapFile(t, tc.lt, tc.frame, tc.frame))
			mixed = append(mixed, ngFrame{tc.lt, tc.frame})
		}
	}
	seeds = append(seeds, pcapngFile(t, mixed[:8]...))
	// A gzipped pcap, which pcapgo unpacks.
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(pcapFile(t, LinkEthernet, eth(etherIPv4, p4)))
	zw.Close()
	seeds = append(seeds, z.Bytes())
	// A pcapng file with a name resolution and a statistics block.
	ng := pcapngFile(t, ngFrame{LinkRaw, p4})
	nrb := le32(nil, 4, 28)
	nrb = append(nrb, 1, 0, 8, 0, 127, 0, 0, 1, 'l', 'o', 0, 0) // IPv4 record
	nrb = append(nrb, 0, 0, 0, 0)                               // end of records
	nrb = le32(nrb, 28)
	isb := le32(nil, 5, 36, 0, 0, 0)
	isb = append(isb, 4, 0, 8, 0) // isb_ifrecv
	isb = le32(isb, 21, 0, 36)
	isb = append(isb, ngPacketBlocks(pcapngFile(t, ngFrame{LinkRaw, p6}))...) // another packet after
	seeds = append(seeds, append(append(ng, nrb...), isb...))
	// Headers only, and nothing.
	seeds = append(seeds, pcapHeader(262144, LinkEthernet), []byte{})
	return seeds
}

// FuzzReader reads arbitrary bytes as a capture file.
func FuzzReader(f *testing.F) {
	for _, s := range readerSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := newReader(bytes.NewReader(data), "fuzz")
		if err != nil {
			if r != nil {
				t.Fatal("newReader returned a Reader and an error")
			}
			if !errors.Is(err, ErrCorrupt) && !strings.Contains(err.Error(), "is not supported") {
				t.Fatalf("newReader: %v is neither ErrCorrupt nor an unsupported link type", err)
			}
			return
		}
		var seg segment.Segment
		segments := 0
		for {
			err := r.Next(&seg)
			if err != nil {
				if err != io.EOF && !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Next: %v is neither io.EOF nor ErrCorrupt", err)
				}
				if err2 := r.Next(&seg); err2 != err {
					t.Fatalf("Next after %v = %v", err, err2)
				}
				break
			}
			segments++
			if err := segmentInvariants(&seg, nil); err != nil {
				t.Fatalf("segment %d: %v", segments, err)
			}
			// The IP header bounds the payload length, unless it gives
			// none (TSO, BIG TCP) and the frame does.
			if seg.PayloadLen > max(maxClaimedPayload, seg.PacketLen-40) {
				t.Fatalf("segment %d: PayloadLen %d in a packet of %d", segments, seg.PayloadLen, seg.PacketLen)
			}
			if seg.PacketLen < len(seg.Payload)+40 {
				t.Fatalf("segment %d: PacketLen %d < payload %d + IP and TCP headers", segments, seg.PacketLen, len(seg.Payload))
			}
			if seg.IfDir != segment.Unknown || seg.Ifindex < 0 {
				t.Fatalf("segment %d: dir %v, ifindex %d", segments, seg.IfDir, seg.Ifindex)
			}
			// Every record takes at least 12 bytes of the file, unless
			// the file is gzipped.
			if segments > 1<<20 || (!bytes.HasPrefix(data, []byte{0x1f, 0x8b}) && r.packets > len(data)/12) {
				t.Fatalf("%d segments from %d records in %d bytes", segments, r.packets, len(data))
			}
		}
		if segments+r.Skipped != r.packets {
			t.Fatalf("%d segments + %d skipped != %d records", segments, r.Skipped, r.packets)
		}
	})
}

// ngPacketBlocks returns the enhanced packet blocks of a little-endian
// pcapng file.
func ngPacketBlocks(data []byte) []byte {
	var out []byte
	for off := 0; off+8 <= len(data); {
		n := int(le.Uint32(data[off+4:]))
		if le.Uint32(data[off:]) == 6 {
			out = append(out, data[off:off+n]...)
		}
		off += n
	}
	return out
}
