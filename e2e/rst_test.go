package e2e

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
	"golang.org/x/sys/unix"
)

// TestForgedRST injects, on a veth, a TCP RST with a live connection's real
// addresses and ports but a sequence number 2^30 past the one the sender is
// at: far outside the window, so the kernel ignores it (RFC 5961) and the
// connection goes on. zmtpdump must too: every message is decoded, those
// after the RST included, the connection is not reported reset, and the
// exit statistics count the RST it ignored.
func TestForgedRST(t *testing.T) {
	requireLive(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("iproute2's ip is needed for this test")
	}
	for i, backend := range []string{"tcx", "socket"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			testForgedRST(t, backend, fmt.Sprintf("10.%d.0", 228+i))
		})
	}
}

func testForgedRST(t *testing.T, backend, prefix string) {
	const sent = 30
	ns, host := vethNamespace(t, "zr"+backend[:1], prefix)
	port := freePort(t)
	srvAddr := netip.MustParseAddrPort(fmt.Sprintf("%s.2:%d", prefix, port))
	srv := srvAddr.String()
	ep := "tcp://" + srv

	d := startDump(t, "-i", host, "--backend", backend, "--port", fmt.Sprint(port), "--json", "-B", "1024")
	sn := openSniffer(t, host)
	recv := startReceiver(t, ns, "-type", "pull", "-bind", ep, "-count", fmt.Sprint(sent))
	time.Sleep(200 * time.Millisecond) // let it bind
	send := startPeer(t, "", "", "-type", "push", "-connect", ep, "-count", fmt.Sprint(sent), "-interval", "100ms")
	recv.waitCount(t, 8, 10*time.Second)

	// The server (a PULL) sends nothing after its READY but the ACKs of
	// the messages: the next one has the sequence number it is at.
	sn.drain()
	var ack tcpPacket
	sn.next(t, "an ACK from the server", func(p *tcpPacket) bool {
		ack = *p
		return p.src == srvAddr && p.payload == 0 && p.flags&tcpACK != 0
	})
	rst := tcpPacket{src: srvAddr, dst: ack.dst, seq: ack.seq + 1<<30, ack: ack.ack, flags: tcpRST | tcpACK}
	injectedAt := time.Now()
	injectTCP(t, ns, &rst)
	sn.next(t, "the forged RST", func(p *tcpPacket) bool {
		return p.src == rst.src && p.dst == rst.dst && p.flags&tcpRST != 0 && p.seq == rst.seq
	})

	recv.wait(t, 20*time.Second)
	waitPeer(t, send, 10*time.Second)
	out, errOut := d.stop(t)

	if after := recv.Between(injectedAt, time.Now().Add(time.Hour)); len(after) < 10 {
		t.Fatalf("only %d messages were sent after the RST: the test proves little", len(after))
	}
	evs := parseEvents(t, out)
	client := ack.dst.String()
	var bodies []string
	for _, e := range direction(evs, client, srv) {
		switch e.Event {
		case "message":
			b, ok := e.body()
			if !ok {
				t.Fatalf("not a one-frame message shown whole: %s", e.line)
			}
			bodies = append(bodies, b)
		case "error", "gap", "resync":
			t.Errorf("nothing was lost, yet: %s", e.line)
		}
	}
	if first, last := counters(t, bodies, "", sent); first != 1 || last != sent {
		t.Errorf("decoded messages %s; want 1 to %d: the messages after the RST must be decoded", summarize(bodies), sent)
	}
	conns, _ := connectionOf(evs, client, srv)
	if len(conns) != 1 {
		t.Fatalf("want one connection summary for %s - %s, got %d (did the kernel take the RST?):\n%s", client, srv, len(conns), out)
	}
	if conns[0].End != "closed" {
		t.Errorf(`the connection went on after the forged RST and ended with FINs; its summary says "end":%q`, conns[0].End)
	}
	if n, line := rstStat(errOut); n != 1 {
		t.Errorf("the exit statistics must count 1 RST outside the window (a line naming the RST and the window), got %d in %q:\n%s", n, line, errOut)
	}
}

// rstStat returns the first number of the exit statistics' line about
// RSTs outside the TCP window, and that line (-1 and "" without one).
func rstStat(stderr string) (int, string) {
	about := regexp.MustCompile(`(?i)\b(rsts?|resets?)\b.*\bwindow\b|\bwindow\b.*\b(rsts?|resets?)\b`)
	num := regexp.MustCompile(`\b\d+\b`)
	for _, l := range strings.Split(stderr, "\n") {
		if about.MatchString(l) {
			n, err := strconv.Atoi(num.FindString(l))
			if err != nil {
				return -1, l
			}
			return n, l
		}
	}
	return -1, ""
}

// TCP flags as in the header.
const (
	tcpRST = 0x04
	tcpACK = 0x10
)

// tcpPacket is an IPv4 TCP segment without options, or the fields of one
// seen.
type tcpPacket struct {
	src, dst netip.AddrPort
	seq, ack uint32
	flags    uint8
	payload  int
}

// marshal returns the packet's IPv4 and TCP headers, checksums included.
func (p *tcpPacket) marshal() []byte {
	b := make([]byte, 40)
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], 40)
	binary.BigEndian.PutUint16(b[6:], 0x4000) // DF
	b[8], b[9] = 64, unix.IPPROTO_TCP
	s, d := p.src.Addr().As4(), p.dst.Addr().As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	binary.BigEndian.PutUint16(b[10:], checksum(b[:20], 0))
	h := b[20:]
	binary.BigEndian.PutUint16(h[0:], p.src.Port())
	binary.BigEndian.PutUint16(h[2:], p.dst.Port())
	binary.BigEndian.PutUint32(h[4:], p.seq)
	binary.BigEndian.PutUint32(h[8:], p.ack)
	h[12], h[13] = 5<<4, p.flags
	binary.BigEndian.PutUint16(h[14:], 65535)
	var pseudo uint32
	for _, a := range [][4]byte{s, d} {
		pseudo += (uint32(a[0])<<8 | uint32(a[1])) + (uint32(a[2])<<8 | uint32(a[3]))
	}
	pseudo += unix.IPPROTO_TCP + uint32(len(h))
	binary.BigEndian.PutUint16(h[16:], checksum(h, pseudo))
	return b
}

// checksum is the Internet checksum of b, starting from the sum sum.
func checksum(b []byte, sum uint32) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// injectTCP sends p from inside network namespace ns through its IP
// output (a raw socket with the IP header included): it leaves by the
// namespace's veth and enters the root namespace by the other end.
func injectTCP(t *testing.T, ns string, p *tcpPacket) {
	t.Helper()
	err := livetest.InNetnsPath(nsPath(ns), func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
		if err != nil {
			return fmt.Errorf("raw socket: %w", err)
		}
		defer unix.Close(fd)
		return unix.Sendto(fd, p.marshal(), 0, &unix.SockaddrInet4{Addr: p.dst.Addr().As4()})
	})
	if err != nil {
		t.Fatalf("inject %+v: %v", p, err)
	}
}

// sniffer reads the IPv4 packets an interface receives (AF_PACKET).
type sniffer struct {
	fd  int
	buf []byte
}

func openSniffer(t *testing.T, iface string) *sniffer {
	t.Helper()
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		t.Fatal(err)
	}
	proto := int(htons(unix.ETH_P_IP))
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		t.Fatalf("packet socket: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: uint16(proto), Ifindex: ifi.Index}); err != nil {
		t.Fatalf("bind packet socket to %s: %v", iface, err)
	}
	tv := unix.NsecToTimeval(int64(3 * time.Second))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	return &sniffer{fd: fd, buf: make([]byte, 1<<16)}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// drain discards the packets queued so far.
func (s *sniffer) drain() {
	for {
		if _, _, err := unix.Recvfrom(s.fd, s.buf, unix.MSG_DONTWAIT); err != nil {
			return
		}
	}
}

// next reads packets until match accepts one, failing the test when none
// comes within 3 s.
func (s *sniffer) next(t *testing.T, what string, match func(*tcpPacket) bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		n, _, err := unix.Recvfrom(s.fd, s.buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			break
		}
		var p tcpPacket
		if parseTCP(s.buf[:n], &p) && match(&p) {
			return
		}
	}
	t.Fatalf("%s did not cross the veth: the test proves nothing", what)
}

// parseTCP reads an IPv4 TCP packet's fields.
func parseTCP(b []byte, p *tcpPacket) bool {
	if len(b) < 20 || b[0]>>4 != 4 || b[9] != unix.IPPROTO_TCP {
		return false
	}
	ihl, total := int(b[0]&0xf)*4, int(binary.BigEndian.Uint16(b[2:]))
	if len(b) < ihl+20 || total < ihl+20 {
		return false
	}
	h := b[ihl:]
	doff := int(h[12]>>4) * 4
	p.src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[12:16])), binary.BigEndian.Uint16(h[0:]))
	p.dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[16:20])), binary.BigEndian.Uint16(h[2:]))
	p.seq, p.ack = binary.BigEndian.Uint32(h[4:]), binary.BigEndian.Uint32(h[8:])
	p.flags = h[13]
	p.payload = total - ihl - doff
	return true
}
