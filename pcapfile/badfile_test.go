package pcapfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"

	"github.com/zmtpdump/zmtpdump/segment"
)

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testdata, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// drain reads r to its first error, returning the segments before it.
func drain(r *Reader) (int, error) {
	var seg segment.Segment
	for n := 0; ; n++ {
		if err := r.Next(&seg); err != nil {
			return n, err
		}
	}
}

func TestOpenBadFiles(t *testing.T) {
	null := readTestdata(t, "push_pull_null.pcap")
	random := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	unsupported := bytes.Clone(null)
	binary.LittleEndian.PutUint32(unsupported[20:], 147) // LINKTYPE_USER0
	badVersion := bytes.Clone(null)
	binary.LittleEndian.PutUint16(badVersion[4:], 3)

	for _, tc := range []struct {
		name    string
		data    []byte
		corrupt bool   // the error wraps ErrCorrupt
		msg     string // the error mentions it
	}{
		{"empty", nil, true, "too short"},
		{"3-bytes", null[:3], true, "too short"},
		{"pcap-magic-only", null[:4], true, "truncated file header"},
		{"pcap-header-cut", null[:23], true, "truncated file header"},
		{"pcapng-header-cut", readTestdata(t, "push_pull_null.pcapng")[:20], true, "truncated file header"},
		{"random", random, true, "magic"},
		{"text", []byte("this is not a capture file\n"), true, "magic"},
		{"pcap-version-3", badVersion, true, "version"},
		{"unsupported-link-type", unsupported, false, "link type 147 is not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTemp(t, "bad.pcap", tc.data)
			r, err := Open(path)
			if err == nil {
				r.Close()
				t.Fatal("Open succeeded")
			}
			if errors.Is(err, ErrCorrupt) != tc.corrupt {
				t.Errorf("Open: %v; wraps ErrCorrupt: %v, want %v", err, !tc.corrupt, tc.corrupt)
			}
			if !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), path) {
				t.Errorf("Open: %q does not mention %q and the path", err, tc.msg)
			}
		})
	}
}

func TestOpenNotAFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.pcap")
	_, err := Open(missing)
	if err == nil || errors.Is(err, ErrCorrupt) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want fs.ErrNotExist, not ErrCorrupt", err)
	}
	_, err = Open(t.TempDir())
	if err == nil || errors.Is(err, ErrCorrupt) {
		t.Errorf("Open(dir) = %v, want a read error, not ErrCorrupt", err)
	}
}

// pcapRecordEnds returns the offsets at which the records of a
// little-endian pcap file end, the file header's end first.
func pcapRecordEnds(t *testing.T, data []byte) []int {
	ends := []int{24}
	for off := 24; off < len(data); {
		off += 16 + int(binary.LittleEndian.Uint32(data[off+8:]))
		ends = append(ends, off)
	}
	if ends[len(ends)-1] != len(data) {
		t.Fatalf("records end at %d, file at %d", ends[len(ends)-1], len(data))
	}
	return ends
}

// pcapngBlockEnds returns the offsets at which the blocks of a
// little-endian pcapng file end, and how many packet blocks end there.
func pcapngBlockEnds(t *testing.T, data []byte) map[int]int {
	ends := map[int]int{}
	packets := 0
	for off := 0; off < len(data); {
		typ := binary.LittleEndian.Uint32(data[off:])
		off += int(binary.LittleEndian.Uint32(data[off+4:]))
		if typ == 6 || typ == 3 { // enhanced or simple packet block
			packets++
		}
		ends[off] = packets
	}
	return ends
}

// TestTruncatedPcap cuts a real pcap file at every length: a cut at a
// record boundary is a shorter file, any other cut is reported as
// truncated after the last whole record.
func TestTruncatedPcap(t *testing.T) {
	data := readTestdata(t, "push_pull_null.pcap")
	ends := pcapRecordEnds(t, data)
	whole := 0 // records wholly before the cut
	for n := 0; n <= len(data); n++ {
		if whole+1 < len(ends) && ends[whole+1] <= n {
			whole++
		}
		r, err := newReader(bytes.NewReader(data[:n]), "cut.pcap")
		if n < 24 {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("cut at %d: newReader = %v, want ErrCorrupt", n, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("cut at %d: %v", n, err)
		}
		got, err := drain(r)
		if got != whole {
			t.Fatalf("cut at %d: %d segments before %v, want %d", n, got, err, whole)
		}
		checkCutErr(t, r, n, err, ends[whole] == n)
	}
}

// TestTruncatedPcapng does the same with a real pcapng file.
func TestTruncatedPcapng(t *testing.T) {
	data := readTestdata(t, "push_pull_null.pcapng")
	ends := pcapngBlockEnds(t, data)
	shb := int(binary.LittleEndian.Uint32(data[4:]))
	whole := 0
	for n := 0; n <= len(data); n++ {
		if p, ok := ends[n]; ok {
			whole = p
		}
		r, err := newReader(bytes.NewReader(data[:n]), "cut.pcapng")
		if n < shb {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("cut at %d: newReader = %v, want ErrCorrupt", n, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("cut at %d: %v", n, err)
		}
		got, err := drain(r)
		if got != whole {
			t.Fatalf("cut at %d: %d segments before %v, want %d", n, got, err, whole)
		}
		_, boundary := ends[n]
		checkCutErr(t, r, n, err, boundary)
	}
}

func checkCutErr(t *testing.T, r *Reader, n int, err error, boundary bool) {
	t.Helper()
	if boundary {
		if err != io.EOF {
			t.Fatalf("cut at %d, a boundary: %v, want io.EOF", n, err)
		}
		return
	}
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("cut at %d: %v, want ErrCorrupt, truncated", n, err)
	}
	// The error sticks.
	var seg segment.Segment
	if err2 := r.Next(&seg); err2 != err {
		t.Fatalf("cut at %d: Next after %v = %v", n, err, err2)
	}
}

// TestTruncatedPcapFile checks the truncation error through Open, with
// the file name.
func TestTruncatedPcapFile(t *testing.T) {
	data := readTestdata(t, "push_pull_multipart.pcap")
	ends := pcapRecordEnds(t, data)
	for _, tc := range []struct {
		name string
		cut  int
	}{
		{"in-record-header", ends[5] + 7},
		{"after-record-header", ends[5] + 16},
		{"in-packet", ends[5] + 16 + 30},
		{"last-byte", len(data) - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTemp(t, "multipart.pcap", data[:tc.cut])
			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			_, err = drain(r)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "truncated") || !strings.Contains(err.Error(), path) {
				t.Errorf("%v: want ErrCorrupt, truncated, and the path", err)
			}
		})
	}
}

// pcapRecord appends a little-endian pcap record header and data.
func pcapRecord(b []byte, capLen, origLen uint32, data []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, 1700000000)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, capLen)
	b = binary.LittleEndian.AppendUint32(b, origLen)
	return append(b, data...)
}

// pcapHeader returns a little-endian microsecond pcap file header.
func pcapHeader(snaplen uint32, lt LinkType) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 0xa1b2c3d4)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 4)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, snaplen)
	return binary.LittleEndian.AppendUint32(b, uint32(lt))
}

// TestBadRecords reads pcap files with one good frame and a bad record.
func TestBadRecords(t *testing.T) {
	good := eth(etherIPv4, p4)
	n := uint32(len(good))
	for _, tc := range []struct {
		name     string
		snaplen  uint32
		record   []byte
		segments int
		msg      string // "" for io.EOF
	}{
		// pcapgo, as tcpdump, takes records longer than a small snaplen.
		{"caplen-above-snaplen", 1500, pcapRecord(nil, 1501, 1501, make([]byte, 1501)), 2, ""},
		{"caplen-above-both", 1500, pcapRecord(nil, maxSnaplen+1, maxSnaplen+1, make([]byte, maxSnaplen+1)), 1, "snap length"},
		{"caplen-above-len", 65535, pcapRecord(nil, n, n-1, good), 1, "original packet length"},
		{"caplen-above-max-snaplen", 1 << 20, pcapRecord(nil, maxSnaplen+1, maxSnaplen+1, make([]byte, maxSnaplen+1)), 1, "snap length"},
		{"caplen-max-snaplen", 1 << 20, pcapRecord(nil, maxSnaplen, maxSnaplen, make([]byte, maxSnaplen)), 2, ""},
		{"caplen-0", 65535, pcapRecord(nil, 0, 60, nil), 2, ""},
		{"snaplen-0", 0, pcapRecord(nil, n, n, good), 3, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := pcapRecord(pcapHeader(tc.snaplen, LinkEthernet), n, n, good)
			data = append(data, tc.record...)
			data = pcapRecord(data, n, n, good)
			r, err := newReader(bytes.NewReader(data), "bad.pcap")
			if err != nil {
				t.Fatal(err)
			}
			got, err := drain(r)
			if tc.msg == "" {
				if err != io.EOF || got != tc.segments {
					t.Errorf("%d segments, then %v; want %d, io.EOF", got, err, tc.segments)
				}
				return
			}
			if got != tc.segments || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("%d segments, then %v; want %d, ErrCorrupt, %q", got, err, tc.segments, tc.msg)
			}
		})
	}
}

// TestPcapngUnsupportedLinkType: a pcapng interface of a link type
// parseFrame does not know has its packets skipped.
func TestPcapngUnsupportedLinkType(t *testing.T) {
	data := pcapngFile(t, ngFrame{147, p4}, ngFrame{147, p4})
	segs, r := readBytes(t, data)
	if len(segs) != 0 || r.Skipped != 2 {
		t.Errorf("%d segments, %d skipped; want 0, 2", len(segs), r.Skipped)
	}
}

// allocated returns the bytes the heap allocated while f ran.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// le32 appends little-endian uint32 values.
func le32(b []byte, v ...uint32) []byte {
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, x)
	}
	return b
}

// TestHugeLengthClaims reads small files whose records claim up to 4 GiB:
// they are refused without allocating anything like what they claim.
func TestHugeLengthClaims(t *testing.T) {
	const huge = 0xffffffff
	junk := bytes.Repeat([]byte{0xee}, 1000)
	// A pcapng section header and an Ethernet interface with snaplen s.
	ngHead := func(s uint32) []byte {
		b := le32(nil, 0x0a0d0d0a, 28, 0x1a2b3c4d, 1, 0xffffffff, 0xffffffff, 28)
		return le32(b, 1, 20, 1, s, 20)
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"pcap-snaplen-4g", append(pcapRecord(pcapHeader(huge, LinkEthernet), huge, huge, nil), junk...)},
		{"pcap-snaplen-64k", append(pcapRecord(pcapHeader(65535, LinkEthernet), huge, huge, nil), junk...)},
		{"pcap-2g", append(pcapRecord(pcapHeader(huge, LinkEthernet), 1<<31, 1<<31, nil), junk...)},
		{"pcapng-epb-4g", append(le32(ngHead(0), 6, huge, 0, 0, 0, huge, huge), junk...)},
		{"pcapng-epb-4g-snaplen-4g", append(le32(ngHead(huge), 6, huge, 0, 0, 0, huge, huge), junk...)},
		{"pcapng-spb-4g", append(le32(ngHead(0), 3, huge, huge), junk...)},
		{"pcapng-block-4g", append(le32(ngHead(0), 0x1234, huge), junk...)},
		{"pcapng-shb-4g", append(le32(nil, 0x0a0d0d0a, huge, 0x1a2b3c4d, 1, 0, 0, 0), junk...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			n := allocated(func() {
				var r *Reader
				r, err = newReader(bytes.NewReader(tc.data), "huge")
				if err == nil {
					_, err = drain(r)
				}
			})
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("error %v, want ErrCorrupt", err)
			}
			if n > 4<<20 {
				t.Errorf("allocated %d bytes reading a %d byte file", n, len(tc.data))
			}
		})
	}
}

// panicSource is a packet source that panics, as a pcapgo bug on a hostile
// file would.
type panicSource struct{}

func (panicSource) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	var b []byte
	return b[:1], gopacket.CaptureInfo{}, nil // index out of range
}

func TestReadPanicIsCorrupt(t *testing.T) {
	r := &Reader{name: "hostile.pcap", src: panicSource{}, linkType: LinkEthernet}
	seg := segment.Segment{Seq: 42}
	err := r.Next(&seg)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "hostile.pcap") {
		t.Fatalf("Next = %v, want ErrCorrupt", err)
	}
	if err2 := r.Next(&seg); err2 != err {
		t.Fatalf("Next after %v = %v", err, err2)
	}
	if seg.Seq != 42 {
		t.Errorf("Next changed seg on error: %+v", seg)
	}
}

func TestNextAfterClose(t *testing.T) {
	r, err := Open(filepath.Join(testdata, "push_pull_null.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	var seg segment.Segment
	if err := r.Next(&seg); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := r.Next(&seg); !errors.Is(err, os.ErrClosed) || errors.Is(err, ErrCorrupt) {
		t.Errorf("Next after Close = %v, want os.ErrClosed", err)
	}
}

// TestSkippedFramesLeaveSeg: frames skipped before the end of the file do
// not leak into seg.
func TestSkippedFramesLeaveSeg(t *testing.T) {
	r, err := newReader(bytes.NewReader(pcapFile(t, LinkEthernet, eth(etherIPv4, p4), eth(etherIPv4, p4u), eth(etherIPv4, with(p4, 20+12, 0x40)))), "skip.pcap")
	if err != nil {
		t.Fatal(err)
	}
	var seg segment.Segment
	if err := r.Next(&seg); err != nil {
		t.Fatal(err)
	}
	first := seg
	if err := r.Next(&seg); err != io.EOF {
		t.Fatalf("Next = %v, want io.EOF", err)
	}
	if r.Skipped != 2 || seg.Src != first.Src || seg.PacketLen != first.PacketLen || seg.Seq != first.Seq {
		t.Errorf("skipped %d; seg %+v, was %+v", r.Skipped, seg, first)
	}
}
