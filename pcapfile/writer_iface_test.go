package pcapfile

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/zmtpdump/zmtpdump/segment"
)

// TestPcapngAddInterface: an interface that comes up during a capture gets
// its block, with its name and link type, between the packets, and the
// packets after it refer to it; a second block for the same index (the
// interface renamed) takes over from the first.
func TestPcapngAddInterface(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	a, b := netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:7001")
	seg := func(ifindex int) *segment.Segment {
		return &segment.Segment{Time: t0, Ifindex: ifindex, Src: a, Dst: b, Seq: 1, Flags: segment.ACK}
	}
	var file bytes.Buffer
	w, err := NewWriter(&file, WriterOptions{Interfaces: []Interface{{Name: "lo", Index: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	steps := []func() error{
		func() error { return w.WriteSegment(seg(1)) },
		func() error { return w.AddInterface(Interface{Name: "tun7", Index: 7, Link: LinkRaw}) },
		func() error { return w.WriteSegment(seg(7)) },
		func() error { return w.AddInterface(Interface{Name: "veth9", Index: 9}) },
		func() error { return w.WriteSegment(seg(9)) },
		func() error { return w.AddInterface(Interface{Name: "renamed", Index: 9}) },
		func() error { return w.WriteSegment(seg(9)) },
		func() error { return w.Flush() },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	r, pkts := readBack(t, file.Bytes())
	want := []struct {
		name string
		lt   layers.LinkType
	}{{"lo", layers.LinkTypeEthernet}, {"tun7", layers.LinkTypeRaw}, {"veth9", layers.LinkTypeEthernet}, {"renamed", layers.LinkTypeEthernet}}
	if r.NInterfaces() != len(want) {
		t.Fatalf("%d interfaces, want %d", r.NInterfaces(), len(want))
	}
	for i, w := range want {
		ifc, _ := r.Interface(i)
		if ifc.Name != w.name || ifc.LinkType != w.lt {
			t.Errorf("interface %d: %q %v, want %q %v", i, ifc.Name, ifc.LinkType, w.name, w.lt)
		}
	}
	if len(pkts) != 4 {
		t.Fatalf("%d packets, want 4", len(pkts))
	}
	for i, id := range []int{0, 1, 2, 3} {
		if pkts[i].ci.InterfaceIndex != id {
			t.Errorf("packet %d on interface %d, want %d", i, pkts[i].ci.InterfaceIndex, id)
		}
	}
	if pkts[1].data[0]>>4 != 4 {
		t.Errorf("the raw-IP interface's packet starts %x, want an IPv4 header", pkts[1].data[:1])
	}
}

// TestPcapngForget: a vanished interface's index is forgotten, so that
// another interface given it later gets a block of its own.
func TestPcapngForget(t *testing.T) {
	var file bytes.Buffer
	w, err := NewWriter(&file, WriterOptions{Interfaces: []Interface{{Name: "veth9", Index: 9}}})
	if err != nil {
		t.Fatal(err)
	}
	if !w.Knows(9) {
		t.Fatal("index 9 not known after its block")
	}
	w.Forget(9)
	if w.Knows(9) {
		t.Fatal("index 9 still known after Forget")
	}
	if err := w.AddInterface(Interface{Name: "other", Index: 9}); err != nil {
		t.Fatal(err)
	}
	if !w.Knows(9) {
		t.Fatal("index 9 not known after its new block")
	}
}
