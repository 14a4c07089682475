package output

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAppendHexDump(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", nil},
		{"odd", "Hello", []string{"\t0x0000:  4865 6c6c 6f                             Hello"}},
		{"line and a bit", "0123456789abcdef\x00\xff\x7f", []string{
			"\t0x0000:  3031 3233 3435 3637 3839 6162 6364 6566  0123456789abcdef",
			"\t0x0010:  00ff 7f                                  ...",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := string(appendHexDump(nil, []byte(tt.in)))
			var want string
			if len(tt.want) > 0 {
				want = strings.Join(tt.want, "\n") + "\n"
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("-want +got:\n%s", diff)
			}
		})
	}
}

// TestAppendHexDumpLong checks offsets past 0xffff keep their digits.
func TestAppendHexDumpLong(t *testing.T) {
	got := string(appendHexDump(nil, make([]byte, 0x10011)))
	last := got[strings.LastIndex(got[:len(got)-1], "\n")+1:]
	if want := "\t0x10010:  00                                       .\n"; last != want {
		t.Errorf("last line %q, want %q", last, want)
	}
}
