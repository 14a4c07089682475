package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// cooked rewrites the Ethernet capture src as Linux cooked frames (v1 or
// v2, what tcpdump -i any writes) and returns the new file's path.
func cooked(t *testing.T, src string, v2 bool) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	r, err := pcapgo.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != layers.LinkTypeEthernet {
		t.Fatalf("%s: link type %v, want Ethernet", src, r.LinkType())
	}
	dst := filepath.Join(t.TempDir(), "cooked.pcap")
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	w := pcapgo.NewWriter(out)
	lt := layers.LinkTypeLinuxSLL
	if v2 {
		lt = layers.LinkType(276) // LINKTYPE_LINUX_SLL2
	}
	if err := w.WriteFileHeader(262144, lt); err != nil {
		t.Fatal(err)
	}
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var h []byte
		if v2 {
			// protocol, reserved, ifindex 1, ARPHRD_LOOPBACK, host, 6, address
			h = append(h, data[12:14]...)
			h = append(h, 0, 0, 0, 0, 0, 1, 0x03, 0x04, 0, 6)
			h = append(h, data[6:12]...)
			h = append(h, 0, 0)
		} else {
			// host, ARPHRD_LOOPBACK, 6, address, protocol
			h = append(h, 0, 0, 0x03, 0x04, 0, 6)
			h = append(h, data[6:12]...)
			h = append(h, 0, 0)
			h = append(h, data[12:14]...)
		}
		frame := append(h, data[14:]...)
		ci.CaptureLength, ci.Length = len(frame), ci.Length-14+len(h)
		if err := w.WritePacket(ci, frame); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// TestCookedFilter reads a capture rewritten as tcpdump -i any writes it
// (Linux cooked v1, and v2, libpcap 1.10's default) with filter
// expressions: each decodes as the Ethernet original does.
func TestCookedFilter(t *testing.T) {
	const src = "../../testdata/push_pull_null.pcap"
	for _, v2 := range []bool{false, true} {
		file := cooked(t, src, v2)
		for _, expr := range []string{"", "tcp port 17001", "ip and tcp", "not port 17001"} {
			want := runArgs(t, "-r", src, expr)
			got := runArgs(t, "-r", file, expr)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("v2 %v, %q: cooked capture decodes differently (-ethernet +cooked):\n%s", v2, expr, diff)
			}
			if expr == "tcp port 17001" && got == "" {
				t.Errorf("v2 %v, %q: nothing decoded", v2, expr)
			}
		}
	}
}
