package e2e

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// record is one packet of a capture file.
type record struct {
	ci   gopacket.CaptureInfo
	data []byte
	// payload is the TCP payload length (0 for pure ACK, SYN, FIN).
	payload int
	syn     bool
	// dir names the direction ("src>dst").
	dir string
	// idx is the record's position in the original file.
	idx int
}

func readRecords(t *testing.T, name string) ([]record, layers.LinkType) {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var recs []record
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			return recs, r.LinkType()
		}
		if err != nil {
			t.Fatal(err)
		}
		rec := record{ci: ci, data: data, idx: len(recs)}
		p := gopacket.NewPacket(data, r.LinkType(), gopacket.Default)
		if tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok {
			rec.payload, rec.syn = len(tcp.Payload), tcp.SYN
			rec.dir = fmt.Sprint(tcp.SrcPort, ">", tcp.DstPort)
		}
		recs = append(recs, rec)
	}
}

func writeRecords(t *testing.T, name string, lt layers.LinkType, recs []record) {
	t.Helper()
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(262144, lt); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.WritePacket(r.ci, r.data); err != nil {
			t.Fatal(err)
		}
	}
}

var stamp = regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{6} `)

// decode runs zmtpdump -r on a file and returns its lines without their
// timestamps (reordering moves the moment an event completes).
func decode(t *testing.T, file string) []string {
	t.Helper()
	out, err := exec.Command(built.zmtpdump, "-r", file).Output()
	if err != nil {
		t.Fatalf("zmtpdump -r %s: %v", file, err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		lines = append(lines, stamp.ReplaceAllString(l, ""))
	}
	return lines
}

// TestMutatedCaptures feeds real captures, shuffled, duplicated and with
// one data segment dropped, to zmtpdump -r: where nothing was lost the
// decoded events must equal the clean capture's; where a segment was
// dropped there must be exactly one gap of its size in its direction, and
// nothing false.
func TestMutatedCaptures(t *testing.T) {
	totalMoved := 0
	defer func() {
		if totalMoved == 0 {
			t.Error("no shuffle reordered two data segments: the reordering check proved nothing")
		}
	}()
	for _, name := range []string{"push_pull_null.pcap", "push_pull_multipart.pcap", "push_pull_large.pcap", "reqrep.pcap", "pubsub.pcap"} {
		t.Run(name, func(t *testing.T) {
			src := filepath.Join("..", "testdata", name)
			recs, lt := readRecords(t, src)
			clean := decode(t, src)
			dir := t.TempDir()
			rng := rand.New(rand.NewSource(7))
			moved := 0
			defer func() { totalMoved += moved }()

			// Reordered as a network reorders: the segments of a run
			// going one way are shuffled among themselves. (An ACK never
			// precedes, at any single capture point, the data it
			// acknowledges, so segments are not moved across the other
			// direction's packets.)
			for i := 0; i < 5; i++ {
				m := append([]record(nil), recs...)
				for j := 3; j < len(m); {
					k := j
					for k < len(m) && m[k].dir == m[j].dir {
						k++
					}
					w := m[j:k]
					rng.Shuffle(len(w), func(a, b int) { w[a], w[b] = w[b], w[a] })
					j = k
				}
				moved += dataInversions(m)
				file := filepath.Join(dir, fmt.Sprintf("shuffled%d.pcap", i))
				writeRecords(t, file, lt, m)
				if got := decode(t, file); !equalLines(got, clean) {
					t.Errorf("shuffled (seed 7, round %d): events differ\nclean:\n%s\ngot:\n%s", i, strings.Join(clean, "\n"), strings.Join(got, "\n"))
				}
			}

			// Every packet twice: retransmissions are fed once.
			var dup []record
			for _, r := range recs {
				dup = append(dup, r, r)
			}
			file := filepath.Join(dir, "duplicated.pcap")
			writeRecords(t, file, lt, dup)
			if got := decode(t, file); !equalLines(got, clean) {
				t.Errorf("duplicated: events differ\nclean:\n%s\ngot:\n%s", strings.Join(clean, "\n"), strings.Join(got, "\n"))
			}

			// Each data segment dropped in turn.
			cleanSet := make(map[string]bool)
			for _, l := range clean {
				cleanSet[l] = true
			}
			for i, r := range recs {
				if r.payload == 0 {
					continue
				}
				m := append(append([]record(nil), recs[:i]...), recs[i+1:]...)
				file := filepath.Join(dir, fmt.Sprintf("drop%d.pcap", i))
				writeRecords(t, file, lt, m)
				got := decode(t, file)
				gaps := 0
				for _, l := range got {
					switch {
					case strings.HasSuffix(l, fmt.Sprintf(": gap: %d bytes lost", r.payload)):
						gaps++
					case strings.Contains(l, ": error: ") && strings.Contains(l, "out of sync"):
						// a ZMTP 1.0 direction stops: allowed
					case strings.Contains(l, ": resync: gap, "):
						// decoding picks the direction up again: allowed;
						// what follows must be lines of the clean capture
					case strings.Contains(l, ": connection "):
						// the summary's counts change: allowed
					case !cleanSet[l]:
						t.Errorf("drop of packet %d (%d bytes): a line the clean capture does not have: %q", i, r.payload, l)
					}
				}
				if gaps != 1 {
					t.Errorf("drop of packet %d (%d bytes): %d gap lines of that size, want 1:\n%s", i, r.payload, gaps, strings.Join(got, "\n"))
				}
			}
		})
	}
}

// dataInversions counts pairs of payload-carrying records out of their
// original order.
func dataInversions(m []record) int {
	n := 0
	for i := range m {
		for j := i + 1; j < len(m); j++ {
			if m[i].payload > 0 && m[j].payload > 0 && m[i].idx > m[j].idx {
				n++
			}
		}
	}
	return n
}

func equalLines(a, b []string) bool {
	return bytes.Equal([]byte(strings.Join(a, "\n")), []byte(strings.Join(b, "\n")))
}
