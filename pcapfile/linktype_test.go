package pcapfile

import (
	"testing"

	"github.com/zmtpdump/zmtpdump/filter"
)

// TestLinkTypes checks the table: what the reader reads and what a filter
// expression is compiled for on each link type.
func TestLinkTypes(t *testing.T) {
	for _, tc := range []struct {
		lt        LinkType
		supported bool
		filter    filter.LinkType // 0: no filter expressions
	}{
		{LinkNull, true, 0},
		{LinkEthernet, true, filter.Ethernet},
		{LinkRaw, true, filter.RawIP},
		{LinkLoop, true, 0},
		{LinkSLL, true, filter.LinuxSLL},
		{LinkIPv4, true, filter.RawIP},
		{LinkIPv6, true, filter.RawIP},
		{LinkSLL2, true, filter.LinuxSLL2},
		{147, false, 0}, // LINKTYPE_USER0
		{-1, false, 0},  // a pcapng packet without an interface link type
	} {
		if got := tc.lt.Supported(); got != tc.supported {
			t.Errorf("link type %d: supported %v, want %v", tc.lt, got, tc.supported)
		}
		f, ok := tc.lt.Filter()
		if f != tc.filter || ok != (tc.filter != 0) {
			t.Errorf("link type %d: filter %v %v, want %v", tc.lt, f, ok, tc.filter)
		}
	}
}
