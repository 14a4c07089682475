package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// The captures in testdata/hostile are written by hostileCaptures: ZMTP
// conversations whose every string a peer chooses carries terminal control
// sequences, C1 controls and bytes that are not UTF-8. TestHostileCaptureFiles
// checks the committed files against it; -update-hostile rewrites them.
var updateHostile = flag.Bool("update-hostile", false, "rewrite the captures in testdata/hostile")

const hostileDir = "../../testdata/hostile"

// Strings a hostile peer sends. retitleClear retitles a terminal, rings its
// bell and clears the screen.
const (
	retitleClear = "\x1b]0;PWNED\x07\x1b[2J"
	hostileC1    = "\x9b2J\xc2\x9b2J"               // CSI as a raw C1 byte and as UTF-8 U+009B
	hostileLine  = "\r\n12:00:00.000000 fake\x1b[A" // a forged line, cursor up
	hostileBin   = "\x00\x08\x7f\xff\xfe"           // NUL, backspace, DEL, not UTF-8
)

// hostileCaptures returns the hostile captures by file name.
func hostileCaptures(t testing.TB) map[string][]byte {
	return map[string][]byte{
		"null_metadata.pcap": hostileNull(t),
		"plain_user.pcap":    hostilePlain(t),
		"plain_utf8.pcap":    plainUTF8(t),
		"plain_joined.pcap":  plainJoined(t),
		"mechanism.pcap":     hostileMechanism(t),
		"zmtp20_zmtp10.pcap": hostileOld(t),
	}
}

// hostileNull: a NULL conversation whose READY carries a hostile
// Socket-Type, Identity and property, then hostile messages and commands
// and an ERROR with a hostile reason.
func hostileNull(t testing.TB) []byte {
	w := &pcapBuilder{t: t}
	c := w.conn("127.0.0.1:40001", "127.0.0.1:7101")
	c.send(true, zGreeting3("NULL", false))
	c.send(false, zGreeting3("NULL", false))
	c.send(true, zCommand("READY", zProps(
		"Socket-Type", retitleClear,
		"Identity", "\x1b[31mid"+hostileC1+hostileBin,
		"X-\x1b[2J\x07"+hostileC1, hostileLine+hostileBin,
	)))
	c.send(false, zCommand("READY", zProps("Socket-Type", "ROUTER")))
	c.send(true, zFrame(0, []byte(retitleClear)))
	c.send(true, append(zFrame(1, []byte(hostileLine)), zFrame(0, []byte(hostileC1+hostileBin))...))
	c.send(true, zCommand("PING", append([]byte{0, 30}, "\x1b]0;P\x07"...)))
	c.send(true, zCommand("SUBSCRIBE", []byte(retitleClear)))
	c.send(true, zCommand("\x1b[2J\x07", []byte(hostileBin)))
	c.send(false, zCommand("ERROR", append([]byte{byte(len(retitleClear + hostileC1))}, retitleClear+hostileC1...)))
	c.close()
	return w.bytes()
}

// hostilePlain: a PLAIN HELLO with a hostile user name and password, and
// an ERROR with a hostile reason.
func hostilePlain(t testing.TB) []byte {
	w := &pcapBuilder{t: t}
	c := w.conn("127.0.0.1:40002", "127.0.0.1:7102")
	c.send(true, zGreeting3("PLAIN", false))
	c.send(false, zGreeting3("PLAIN", true))
	c.send(true, zCommand("HELLO", zPlainHello(retitleClear+hostileC1+hostileBin, "pass\x1b[2Jword")))
	c.send(false, zCommand("ERROR", append([]byte{byte(len(hostileLine))}, hostileLine...)))
	c.close()
	return w.bytes()
}

// plainUTF8: a PLAIN conversation with a UTF-8 user name and metadata.
func plainUTF8(t testing.TB) []byte {
	w := &pcapBuilder{t: t}
	c := w.conn("127.0.0.1:40003", "127.0.0.1:7103")
	c.send(true, zGreeting3("PLAIN", false))
	c.send(false, zGreeting3("PLAIN", true))
	c.send(true, zCommand("HELLO", zPlainHello("José", "s3cret-Ünï")))
	c.send(false, zCommand("WELCOME", nil))
	c.send(true, zCommand("INITIATE", zProps("Socket-Type", "PUSH", "X-Grüße", "Grüße")))
	c.send(false, zCommand("READY", zProps("Socket-Type", "PULL")))
	c.send(true, zFrame(0, []byte("Grüße")))
	c.close()
	return w.bytes()
}

// plainJoined: a PLAIN conversation whose capture starts after the
// greetings, at the HELLO: the mechanism is not known when the HELLO
// comes, and its password must be hidden all the same.
func plainJoined(t testing.TB) []byte {
	w := &pcapBuilder{t: t}
	c := w.joined("127.0.0.1:40009", "127.0.0.1:7106")
	c.send(true, zCommand("HELLO", zPlainHello("admin", "joined-secret")))
	c.send(false, zCommand("WELCOME", nil))
	c.send(true, zCommand("INITIATE", zProps("Socket-Type", "PUSH")))
	c.send(false, zCommand("READY", zProps("Socket-Type", "PULL")))
	for i := 0; i < 8; i++ {
		c.send(true, zFrame(0, []byte("message")))
	}
	c.close()
	return w.bytes()
}

// hostileMechanism: greetings naming a hostile mechanism (the same both
// ways, then different ways), and a READY whose malformed property makes
// an error that quotes its name.
func hostileMechanism(t testing.TB) []byte {
	w := &pcapBuilder{t: t}
	mech := "\x1b[2J\x07" + "\x9b"
	c := w.conn("127.0.0.1:40004", "127.0.0.1:7104")
	c.send(true, zGreeting3(mech, false))
	c.send(false, zGreeting3(mech, false))
	c.send(true, zCommand("HELLO", zPlainHello("u\x1b[2J", "pw")))
	c.send(false, zCommand("READY", []byte(hostileBin+retitleClear)))
	c.close()
	c = w.conn("127.0.0.1:40005", "127.0.0.1:7104")
	c.send(true, zGreeting3(mech, false))
	c.send(false, zGreeting3("NULL\x1b[2J", false))
	c.close()
	c = w.conn("127.0.0.1:40006", "127.0.0.1:7104")
	c.send(true, zGreeting3("NULL", false))
	c.send(false, zGreeting3("NULL", false))
	bad := []byte{byte(len(retitleClear))}
	bad = append(bad, retitleClear...)
	bad = binary.BigEndian.AppendUint32(bad, 1000) // overruns the command
	c.send(true, zCommand("READY", bad))
	c.close()
	return w.bytes()
}

// hostileOld: a ZMTP 2.0 and a ZMTP 1.0 conversation with hostile
// identities and bodies.
func hostileOld(t testing.TB) []byte {
	w := &pcapBuilder{t: t}
	c := w.conn("127.0.0.1:40007", "127.0.0.1:7105")
	sig := []byte{0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f}
	c.send(true, append(append(sig, 1, 0x1b), zFrame(0, []byte(retitleClear))...)) // socket type 0x1b
	c.send(false, append(append(sig[:10:10], 1, 7), zFrame(0, []byte(hostileC1))...))
	c.send(true, zFrame(0, []byte(hostileLine+hostileBin)))
	c.close()
	c = w.conn("127.0.0.1:40008", "127.0.0.1:7105")
	id := []byte(retitleClear)
	c.send(true, append([]byte{byte(len(id) + 1), 0}, id...))
	c.send(false, []byte{1, 0})
	body := []byte(hostileC1 + hostileLine)
	c.send(true, append([]byte{byte(len(body) + 1), 0}, body...))
	c.close()
	return w.bytes()
}

// zGreeting3 is a ZMTP 3.1 greeting (RFC 37).
func zGreeting3(mech string, asServer bool) []byte {
	g := make([]byte, 64)
	g[0], g[9], g[10], g[11] = 0xff, 0x7f, 3, 1
	copy(g[12:32], mech)
	if asServer {
		g[32] = 1
	}
	return g
}

// zFrame is a ZMTP 3 frame with the given flags (0x01 MORE, 0x04 COMMAND).
func zFrame(flags byte, body []byte) []byte {
	if len(body) > 255 {
		b := binary.BigEndian.AppendUint64([]byte{flags | 2}, uint64(len(body)))
		return append(b, body...)
	}
	return append([]byte{flags, byte(len(body))}, body...)
}

// zCommand is a command frame.
func zCommand(name string, data []byte) []byte {
	body := append([]byte{byte(len(name))}, name...)
	return zFrame(4, append(body, data...))
}

// zProps is metadata from name, value pairs.
func zProps(kv ...string) []byte {
	var b []byte
	for i := 0; i+1 < len(kv); i += 2 {
		b = append(b, byte(len(kv[i])))
		b = append(b, kv[i]...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(kv[i+1])))
		b = append(b, kv[i+1]...)
	}
	return b
}

// zPlainHello is the data of a PLAIN HELLO (RFC 24).
func zPlainHello(user, pass string) []byte {
	b := append([]byte{byte(len(user))}, user...)
	b = append(b, byte(len(pass)))
	return append(b, pass...)
}

// pcapBuilder writes a classic pcap of Ethernet frames, one packet at a
// time, with times 1 ms apart from a fixed start.
type pcapBuilder struct {
	t   testing.TB
	buf bytes.Buffer
	w   *pcapgo.Writer
	now time.Time
}

func (w *pcapBuilder) packet(src, dst netip.AddrPort, seq, ack uint32, flags uint8, payload []byte) {
	if w.w == nil {
		w.w = pcapgo.NewWriter(&w.buf)
		if err := w.w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
			w.t.Fatal(err)
		}
		w.now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	}
	eth := &layers.Ethernet{EthernetType: layers.EthernetTypeIPv4, SrcMAC: net.HardwareAddr{0, 0, 0, 0, 0, 0}, DstMAC: net.HardwareAddr{0, 0, 0, 0, 0, 0}}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, Flags: layers.IPv4DontFragment,
		SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()), Seq: seq, Ack: ack, Window: 65535,
		FIN: flags&1 != 0, SYN: flags&2 != 0, PSH: flags&8 != 0, ACK: flags&16 != 0}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		w.t.Fatal(err)
	}
	sb := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(sb, opts, eth, ip, tcp, gopacket.Payload(payload)); err != nil {
		w.t.Fatal(err)
	}
	w.now = w.now.Add(time.Millisecond)
	ci := gopacket.CaptureInfo{Timestamp: w.now, CaptureLength: len(sb.Bytes()), Length: len(sb.Bytes())}
	if err := w.w.WritePacket(ci, sb.Bytes()); err != nil {
		w.t.Fatal(err)
	}
}

func (w *pcapBuilder) bytes() []byte { return w.buf.Bytes() }

// tcpConn is one TCP connection being written.
type tcpConn struct {
	w              *pcapBuilder
	client, server netip.AddrPort
	cseq, sseq     uint32
}

// TCP flags as pcapBuilder.packet takes them.
const (
	fFIN = 1
	fSYN = 2
	fPSH = 8
	fACK = 16
)

// conn opens a connection from client to server with the three-way
// handshake.
func (w *pcapBuilder) conn(client, server string) *tcpConn {
	c := &tcpConn{w: w, client: netip.MustParseAddrPort(client), server: netip.MustParseAddrPort(server), cseq: 1000, sseq: 5000}
	w.packet(c.client, c.server, c.cseq, 0, fSYN, nil)
	w.packet(c.server, c.client, c.sseq, c.cseq+1, fSYN|fACK, nil)
	c.cseq++
	c.sseq++
	w.packet(c.client, c.server, c.cseq, c.sseq, fACK, nil)
	return c
}

// joined is a connection from client to server already open when the
// capture starts (no handshake seen).
func (w *pcapBuilder) joined(client, server string) *tcpConn {
	return &tcpConn{w: w, client: netip.MustParseAddrPort(client), server: netip.MustParseAddrPort(server), cseq: 1065, sseq: 5065}
}

// send sends p in one segment from the client (or the server).
func (c *tcpConn) send(fromClient bool, p []byte) {
	if fromClient {
		c.w.packet(c.client, c.server, c.cseq, c.sseq, fPSH|fACK, p)
		c.cseq += uint32(len(p))
		return
	}
	c.w.packet(c.server, c.client, c.sseq, c.cseq, fPSH|fACK, p)
	c.sseq += uint32(len(p))
}

// close ends the connection with a FIN each way.
func (c *tcpConn) close() {
	c.w.packet(c.client, c.server, c.cseq, c.sseq, fFIN|fACK, nil)
	c.cseq++
	c.w.packet(c.server, c.client, c.sseq, c.cseq, fFIN|fACK, nil)
	c.sseq++
	c.w.packet(c.client, c.server, c.cseq, c.sseq, fACK, nil)
}

// TestHostileCaptureFiles: the committed hostile captures are what
// hostileCaptures writes (go test -run TestHostileCaptureFiles
// -update-hostile rewrites them).
func TestHostileCaptureFiles(t *testing.T) {
	for name, want := range hostileCaptures(t) {
		path := filepath.Join(hostileDir, name)
		if *updateHostile {
			if err := os.MkdirAll(hostileDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -run TestHostileCaptureFiles -update-hostile)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not what hostileCaptures writes (run go test -run TestHostileCaptureFiles -update-hostile)", path)
		}
	}
}
