package loader

import (
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLinks compares the rtnetlink listing with the standard library's.
func TestLinks(t *testing.T) {
	nl, err := openLinkSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	var got []string
	for range 2 { // twice: the socket is reused
		links, err := nl.links()
		if err != nil {
			t.Fatal(err)
		}
		got = got[:0]
		for _, li := range links {
			got = append(got, li.name)
		}
	}
	all, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, ni := range all {
		want = append(want, ni.Name)
	}
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("interfaces (-net +netlink):\n%s", diff)
	}
}

func TestResolveInterfaces(t *testing.T) {
	links := []linkInfo{
		{name: "lo", index: 1, typ: arphrdLoopback, flags: syscall.IFF_UP | syscall.IFF_LOOPBACK},
		{name: "eth0", index: 2, typ: arphrdEther, flags: syscall.IFF_UP},
		{name: "tun0", index: 3, typ: arphrdNone, flags: syscall.IFF_UP},
		{name: "down0", index: 4, typ: arphrdEther},
		{name: "ipip0", index: 5, typ: 768, flags: syscall.IFF_UP},
	}
	all, err := resolveInterfaces([]string{AnyInterface}, links)
	if err != nil {
		t.Fatal(err)
	}
	want := []iface{{"lo", 1, 14, true}, {"eth0", 2, 14, false}, {"tun0", 3, 0, false}}
	if diff := cmp.Diff(want, all, cmp.AllowUnexported(iface{})); diff != "" {
		t.Errorf("any (-want +got):\n%s", diff)
	}
	if _, err := resolveInterfaces([]string{"nope"}, links); err == nil || !strings.Contains(err.Error(), `unknown interface "nope"`) {
		t.Errorf("unknown interface: %v", err)
	}
	if _, err := resolveInterfaces([]string{"ipip0"}, links); err == nil || !strings.Contains(err.Error(), "link type 768") {
		t.Errorf("unparsable link type: %v", err)
	}
	if got := loopbackOf(links); got != 1 {
		t.Errorf("loopbackOf = %d", got)
	}
}
