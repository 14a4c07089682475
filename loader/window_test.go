package loader

import (
	"testing"

	"github.com/cilium/ebpf"
	"github.com/gopacket/gopacket/layers"

	"github.com/zmtpdump/zmtpdump/bpf"
	"github.com/zmtpdump/zmtpdump/segment"
)

// Options of test SYNs.
var (
	optMSS      = layers.TCPOption{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0xff, 0xd7}}
	optSACKPerm = layers.TCPOption{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2}
	optTS       = layers.TCPOption{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: make([]byte, 8)}
	optNOP      = layers.TCPOption{OptionType: layers.TCPOptionKindNop}
	optEOL      = layers.TCPOption{OptionType: layers.TCPOptionKindEndList}
)

func optWS(shift byte) layers.TCPOption {
	return layers.TCPOption{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{shift}}
}

// TestProgramWindow checks the window and the SYN's window scale shift the
// capture programs ship, with bpf_loop and without (CaptureBasic), at TC
// and in the socket filter.
func TestProgramWindow(t *testing.T) {
	requireBPF(t)
	nops := make([]layers.TCPOption, 37) // 37 NOPs and a window scale: 40 bytes of options
	for i := range nops {
		nops[i] = optNOP
	}
	cases := []struct {
		name   string
		flags  uint8
		window uint16
		opts   []layers.TCPOption
		wscale int8
		bad    int // >0: the length byte of the option this many bytes into the options is made 1 (malformed)
	}{
		{"Linux SYN", segment.SYN, 65495, []layers.TCPOption{optMSS, optSACKPerm, optTS, optNOP, optWS(7)}, 7, 0},
		{"Windows SYN-ACK", segment.SYN | segment.ACK, 65535, []layers.TCPOption{optMSS, optNOP, optWS(8), optNOP, optNOP, optSACKPerm}, 8, 0},
		{"SYN, shift 0", segment.SYN, 1024, []layers.TCPOption{optWS(0)}, 0, 0},
		{"SYN, no window scale", segment.SYN, 29200, []layers.TCPOption{optMSS, optSACKPerm}, -1, 0},
		{"SYN, no options", segment.SYN, 4096, nil, -1, 0},
		{"SYN, shift 20", segment.SYN, 1, []layers.TCPOption{optWS(20)}, 14, 0},
		{"SYN, 37 NOPs first", segment.SYN, 2, append(append([]layers.TCPOption(nil), nops...), optWS(9)), 9, 0},
		{"SYN, after the end of options", segment.SYN, 3, []layers.TCPOption{optMSS, optEOL, optWS(5)}, -1, 0},
		{"SYN, a malformed option first", segment.SYN, 4, []layers.TCPOption{{OptionType: 30, OptionLength: 2}, optWS(5)}, -1, 1},
		{"SYN, window scale of length 4", segment.SYN, 5, []layers.TCPOption{{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 4, OptionData: []byte{5, 0}}}, -1, 0},
		{"ACK with a window scale option", segment.ACK, 6, []layers.TCPOption{optNOP, optWS(5)}, -1, 0},
		{"zero window", segment.ACK, 0, nil, -1, 0},
	}
	var frames [][]byte
	for _, c := range cases {
		f := buildFrame(t, frameSpec{sport: 40000, dport: 7001, flags: c.flags, window: c.window, opts: c.opts})
		if c.bad > 0 {
			f[14+20+20+c.bad] = 1 // gopacket writes the lengths it computes
		}
		if c.window == 0 {
			// frameSpec's 0 means its default: write the 0 in place
			// (the programs do not check the TCP checksum).
			copy(f[14+20+14:], []byte{0, 0})
		}
		frames = append(frames, f)
	}
	check := func(t *testing.T, what string, segs []segment.Segment) {
		t.Helper()
		if len(segs) != len(cases) {
			t.Fatalf("%s: %d records, want %d", what, len(segs), len(cases))
		}
		for i, c := range cases {
			if s := segs[i]; s.Window != c.window || s.WScale != c.wscale || s.Flags != c.flags {
				t.Errorf("%s: %s: window %d, shift %d, flags %s; want %d, %d, %s", what, c.name, s.Window, s.WScale,
					segment.FlagString(s.Flags), c.window, c.wscale, segment.FlagString(c.flags))
			}
		}
	}
	for _, full := range []bool{true, false} {
		if full && !haveLoop() {
			continue
		}
		name := map[bool]string{true: "Capture", false: "CaptureBasic"}[full]
		segs, _ := runProgramStats(t, Config{Ports: []uint16{7001}}, full, 14, frames,
			func(o *bpf.CaptureObjects) *ebpf.Program { return o.CaptureIngress }, -1)
		check(t, name+" at TC", segs)
		// A socket filter's test run starts at the network header (it
		// runs eth_type_trans): load it for a 0-byte link header.
		segs, _ = runProgramStats(t, Config{Ports: []uint16{7001}}, full, 0, frames,
			func(o *bpf.CaptureObjects) *ebpf.Program { return o.CaptureSocket }, 0)
		check(t, name+" as a socket filter", segs)
	}
}
