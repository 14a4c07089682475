package accuracy

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
)

var (
	reportFlag = flag.Bool("accuracy.report", false, "print the table of figures at the end (go test -v prints it too)")
	keepFlag   = flag.String("accuracy.keep", "", "write the variant pcaps into this directory and keep them")
)

// minRecall is the target: of the messages wholly captured in a variant,
// the share decoded, per capture and kind of variant.
const minRecall = 0.98

// captures are the files of testdata/lossy measured, with the number of
// messages their whole decode must hold (see testdata/lossy/record.sh;
// CURVE hides MORE inside its boxes, so curve's 250 two-frame messages
// count twice).
var captures = []struct {
	name     string
	messages int
}{
	{"null_mixed", 800},
	{"curve", 1250},
	{"pubsub31", 2000},
}

// Set by TestMain.
var (
	zmtpdump string // the binary built
	workDir  string // where variants are written
)

func TestMain(m *testing.M) {
	flag.Parse()
	code, err := run(m)
	if err != nil {
		fmt.Fprintf(os.Stderr, "accuracy: %v\n", err)
		code = 1
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	tmp, err := os.MkdirTemp("", "zmtpdump-accuracy-")
	if err != nil {
		return 0, fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	workDir = tmp
	if *keepFlag != "" {
		if err := os.MkdirAll(*keepFlag, 0o755); err != nil {
			return 0, fmt.Errorf("-accuracy.keep: %w", err)
		}
		workDir = *keepFlag
	}
	if zmtpdump, err = build(tmp); err != nil {
		return 0, err
	}
	code := m.Run()
	if *reportFlag || testing.Verbose() {
		printTable(os.Stdout)
	}
	return code, nil
}

// build builds ./cmd/zmtpdump, pure Go, into dir. go test puts its own go
// first on the PATH.
func build(dir string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("building zmtpdump: %w", err)
	}
	bin := filepath.Join(dir, "zmtpdump")
	cmd := exec.Command(goBin, "build", "-o", bin, "./cmd/zmtpdump")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/zmtpdump: %w\n%s", err, out)
	}
	return bin, nil
}

// result is one variant's decode, scored.
type result struct {
	v variant
	s score
}

// measured is everything measured on one capture, once.
type measured struct {
	once    sync.Once
	err     error
	cap     *capture
	ref     *reference
	results []result
}

var (
	measuredMu sync.Mutex
	measures   = map[string]*measured{}
)

// measure reads, decodes and scores capture name and all its variants, the
// first time it is asked for; later calls return the same figures.
func measure(t *testing.T, name string) *measured {
	t.Helper()
	measuredMu.Lock()
	ms, ok := measures[name]
	if !ok {
		ms = &measured{}
		measures[name] = ms
	}
	measuredMu.Unlock()
	ms.once.Do(func() { ms.err = ms.run(name) })
	if ms.err != nil {
		t.Fatalf("%s: %v", name, ms.err)
	}
	return ms
}

func (ms *measured) run(name string) error {
	path := filepath.Join("..", "testdata", "lossy", name+".pcap")
	c, err := readCapture(path)
	if err != nil {
		return err
	}
	events, err := decode(zmtpdump, path)
	if err != nil {
		return err
	}
	ref, err := makeReference(events)
	if err != nil {
		return fmt.Errorf("reference: %w", err)
	}
	maps := streamMaps(c)
	for dir := range ref.messages {
		if _, ok := maps[dir]; !ok {
			return fmt.Errorf("reference: no SYN from %s in the capture", dir)
		}
	}
	cuts, err := cutPoints(c, maps, ref)
	if err != nil {
		return err
	}
	ms.cap, ms.ref = c, ref
	for _, v := range variants(c, cuts) {
		file := filepath.Join(workDir, name+"-"+v.name+".pcap")
		if err := c.write(file, v.keep); err != nil {
			return err
		}
		events, err := decode(zmtpdump, file)
		if err != nil {
			return fmt.Errorf("variant %s: %w", v.name, err)
		}
		if *keepFlag == "" {
			os.Remove(file)
		}
		ms.results = append(ms.results, result{v, scoreVariant(c, maps, ref, v.keep, events)})
	}
	return nil
}

// byKind sums the results of one kind.
func (ms *measured) byKind(kind string) (sum score, n int) {
	for _, r := range ms.results {
		if r.v.kind == kind {
			sum.add(r.s)
			n++
		}
	}
	return sum, n
}

// logVariants logs the figures of each variant of kind.
func logVariants(t *testing.T, ms *measured, kind string) {
	t.Helper()
	for _, r := range ms.results {
		if r.v.kind != kind {
			continue
		}
		s := r.s
		t.Logf("%-34s dropped %2d segs, cut %3d pkts: %4d/%4d wholly captured decoded (%5.1f%%), %d partial, %d phantom, %d resync, %d gap, %d error",
			r.v.name, r.v.dropped, r.v.cut, s.decoded, s.wholly, 100*s.ratio(), s.partial, s.phantoms, s.resyncs, s.gaps, s.errors)
	}
}

// TestReference checks the harness on each whole capture: the decode is
// clean and holds the messages the recording sent, every byte is captured,
// and scoring the whole capture against itself finds every message and no
// phantom.
func TestReference(t *testing.T) {
	for _, tc := range captures {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ms := measure(t, tc.name)
			if ms.ref.total != tc.messages {
				t.Errorf("reference decode: %d messages, want %d", ms.ref.total, tc.messages)
			}
			s, _ := ms.byKind(kindWhole)
			logVariants(t, ms, kindWhole)
			if s.wholly != ms.ref.total || s.decoded != ms.ref.total || s.phantoms != 0 || s.partial != 0 {
				t.Errorf("whole capture: %d wholly captured, %d decoded, %d partial, %d phantoms; want all %d, 0, 0",
					s.wholly, s.decoded, s.partial, s.phantoms, ms.ref.total)
			}
		})
	}
}

// TestRecall asserts the target: per capture and kind of lossy variant,
// at least minRecall of the messages wholly captured are decoded.
func TestRecall(t *testing.T) {
	for _, tc := range captures {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ms := measure(t, tc.name)
			for _, kind := range []string{kindDrop, kindCut, kindBoth} {
				t.Run(kind, func(t *testing.T) {
					logVariants(t, ms, kind)
					s, n := ms.byKind(kind)
					if n == 0 {
						t.Fatalf("no %s variants", kind)
					}
					if s.wholly == 0 {
						t.Fatalf("%d %s variants and no message wholly captured in any", n, kind)
					}
					if s.ratio() < minRecall {
						t.Errorf("%d %s variants: %d of %d messages wholly captured decoded (%.1f%%), want at least %.0f%%",
							n, kind, s.decoded, s.wholly, 100*s.ratio(), 100*minRecall)
					}
				})
			}
		})
	}
}

// TestNoPhantoms asserts that no variant decodes a message the sender
// never sent.
func TestNoPhantoms(t *testing.T) {
	for _, tc := range captures {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ms := measure(t, tc.name)
			for _, kind := range []string{kindDrop, kindCut, kindBoth} {
				t.Run(kind, func(t *testing.T) {
					for _, r := range ms.results {
						if r.v.kind == kind && r.s.phantoms > 0 {
							t.Errorf("%s: %d phantom messages, e.g.\n\t%s", r.v.name, r.s.phantoms,
								strings.Join(r.s.examples, "\n\t"))
						}
					}
				})
			}
		})
	}
}

// printTable writes the figures of every capture measured, one row per
// kind of variant.
func printTable(w io.Writer) {
	measuredMu.Lock()
	defer measuredMu.Unlock()
	if len(measures) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "capture\tvariants\tkind\tsegs dropped\twholly captured\tdecoded\t%\tpartial\tphantoms\tresyncs\tgaps\terrors\t")
	for _, tc := range captures {
		ms, ok := measures[tc.name]
		if !ok || ms.err != nil {
			continue
		}
		for _, kind := range []string{kindWhole, kindDrop, kindCut, kindBoth} {
			s, n := ms.byKind(kind)
			dropped := 0
			for _, r := range ms.results {
				if r.v.kind == kind {
					dropped += r.v.dropped
				}
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%.1f\t%d\t%d\t%d\t%d\t%d\t\n", tc.name, n, kind, dropped,
				s.wholly, s.decoded, 100*s.ratio(), s.partial, s.phantoms, s.resyncs, s.gaps, s.errors)
		}
	}
	tw.Flush()
}
