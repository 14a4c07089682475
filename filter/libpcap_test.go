package filter

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/zmtpdump/zmtpdump/internal/skip"
)

// diffExprs are the expressions compared with libpcap. Each must compile
// for Ethernet; on the other link types it must fail exactly when libpcap
// fails.
var diffExprs = []string{
	// host / net
	"host 10.0.0.1", "src host 10.0.0.1", "dst host 10.0.0.2", "src and dst host 10.0.0.1",
	"src or dst host 192.168.1.20", "dst and src host 10.0.0.1", "host 10.0.0.9", "host 10.1",
	"host 167772162", "ip host 10.0.0.1", "arp host 10.0.0.2", "rarp host 10.0.0.9", "ip src 10.0.0.1",
	"host ::1", "host 2001:db8::2", "ip6 host 2001:db8::1", "ip6 src ::ffff:10.0.0.1", "dst host ff02::1:2",
	"net 10.0.0.0/8", "net 10", "net 192.168", "dst net 192.168.0.0/16", "src net 172.16.0.0 mask 255.240.0.0",
	"net 10.0.0.0 mask 255.0.255.0", "net 0.0.0.0/0", "net 2001:db8::/32", "net fe80::/10", "src net 2001:db8::/64",
	"net ::/0", "ip6 net 2001:db8:1::/48", "src 10.0.0.1 or 10.0.0.2", "host 10.0.0.1 and 10.0.0.2",
	"host 10.0.0.1 and not 10.0.0.2",
	// port / portrange
	"port 7001", "port 7001 or port 7002", "port 7001 or 7002", "tcp port 7001", "udp port 7001",
	"sctp port 80", "sctp", "src port 7001", "dst port 7001", "src and dst port 7001", "tcp src or dst port 22",
	"port 80", "port 010", "port 0x1b59", "portrange 7000-7010", "portrange 7010-7000", "tcp portrange 20-80",
	"udp dst portrange 1-1024", "portrange 7001", "src port 7001 and dst net 192.168.0.0/16",
	"tcp port 80 and 443", "port 80 and not 22", "port 53 or 80 and host 10.0.0.1",
	// protocols
	"ip", "ip6", "arp", "rarp", "tcp", "udp", "icmp", "icmp6", "igmp", "esp", "ah", "pim", "vrrp",
	"proto 6", "ip proto 6", "ip6 proto 6", "ip proto 17 or 1", "proto \\udp", "ip6 proto \\tcp",
	"proto 300", "ip proto 50",
	// vlan (Ethernet only)
	"vlan", "vlan 10", "vlan 20 and udp", "vlan and tcp port 7001", "vlan 100 and vlan 3 and tcp",
	"vlan and vlan 3 and ip", "ip and (vlan or ip)", "vlan 10 and host 10.0.0.1", "not vlan", "vlan and arp",
	"vlan and ip6 and tcp port 80", "tcp port 7001 or (vlan and tcp port 7001)",
	// lengths
	"greater 100", "less 100", "greater 0x10", "len > 1000", "len <= 60", "len - 14 > 100", "length >= 64",
	// byte expressions
	"tcp[tcpflags] & tcp-syn != 0", "tcp[tcpflags] & (tcp-syn|tcp-ack) = tcp-syn", "tcp[13] = 0x12",
	"tcp[tcpflags] & tcp-fin != 0", "tcp[tcpflags] & tcp-rst != 0", "tcp[tcpflags] & tcp-push != 0",
	"tcp[tcpflags] & tcp-urg != 0", "tcp[tcpflags] & (tcp-ece|tcp-cwr) = 0", "tcp[0:2] = 7001",
	"tcp[2:2] >= 7000 and tcp[2:2] <= 7010", "tcp[12] >> 4 > 5", "tcp[(tcp[12] >> 4) * 4] = 0xff",
	"tcp[0:4] + 1 = tcp[4:4] * 2", "udp[0:2] = 53", "udp[2:2] < 7000", "sctp[0:2] = 7001",
	"icmp[icmptype] = icmp-echo", "icmp[icmptype] != icmp-echo and icmp[icmpcode] = 0",
	"icmp6[icmp6type] = icmp6-echo", "icmp6[0] = 135", "ip[0] & 0xf != 5", "ip[0] & 0xf > 5",
	"ip[2:2] > 1000", "ip[9] = 6", "ip[6:2] & 0x1fff != 0", "ip[ip[0] & 0xf] = 1", "ip6[6] = 6",
	"ip6[40:2] = 7001", "arp[7] = 1", "arp[6:2] = 2", "ether[12:2] = 0x800", "ether[0] & 1 = 0",
	"ip[8] % 3 = 1", "ip[8] ^ 1 | 2 = 67", "ip[0] | 1 & 2 = 0x45", "ip[8] + 1 << 2 = 260",
	"ip[8] / 2 = 32", "ip[8] - 60 < 10", "ip[8] * 2 = 128", "tcp[100] = 0", "not tcp[13] = 2",
	"not tcp[100:4] = 1", "ip[16:4] = 0x0a000002", "tcp[13] & 2 = 2 or udp[0:2] = 7001",
	"tcp[tcpflags] & 2 != 0 and tcp[tcpflags] & 16 = 0", "1 = 1", "2 > 3", "len = len",
	// combinations
	"tcp and (port 7001 or port 7002) and not host 10.0.0.3",
	"tcp and (port 7001 or port 7002) and not host 192.168.1.10",
	"not ip and not ip6", "!arp && !(tcp || udp)", "ip or ip6 or arp", "not (port 7001 or 7002)",
	"(tcp or udp) and src net 10.0.0.0/8 and not dst port 53", "host 10.0.0.1 and (port 80) and 10.0.0.2",
	"tcp port 7001 and tcp[tcpflags] & tcp-syn != 0 and not tcp[tcpflags] & tcp-ack != 0",
	"ip6 and not (tcp or udp)", "(ip or ip6) and greater 80", "not not tcp", "arp or (ip and not icmp)",
	"port 7001 and ip6 proto 6", "ip and ip[0] > 0x45 or ip6 and ip6[7] = 64",
}

// failExprs must fail to compile, as they do in libpcap.
var failExprs = []string{
	"host 10.0.0.0/8", "net 10/8", "net 10.0.0.1/8", "net 10.0.0.0/33", "net 2001:db8::/129",
	"port 70000", "ip[1:3] = 1", "ip[0] / 0 = 1", "ip[0] << 33 = 0", "ip6 host 10.0.0.1",
	"udp host 1.2.3.4", "ip port 80", "vlan 4096", "tcp and 80", "10.0.0.1", "80", "ip proto tcp",
	"port", "host", "(port 80", "port 80)", "tcp[0:] = 1", "and", "port 80 or", "not",
	"host 1.2.3.4.5", "ip[0] = ", "tcp[0", "icmp6 port 80",
}

// tcpdumpProgram returns libpcap's program for expr (tcpdump -y LT -dd),
// nil and the message when libpcap refuses it. "Rejects all packets" is a
// program too: a lone "ret #0".
func tcpdumpProgram(t *testing.T, expr string, lt LinkType) ([]bpf.Instruction, string) {
	t.Helper()
	cmd := exec.Command("tcpdump", "-y", lt.String(), "-dd", "--", expr)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if strings.Contains(msg, "expression rejects all packets") {
			return []bpf.Instruction{bpf.RetConstant{Val: 0}}, ""
		}
		if msg == "" {
			t.Fatalf("tcpdump %q: %v", expr, err)
		}
		return nil, msg
	}
	raw, err := parseDD(out.Bytes())
	if err != nil {
		t.Fatalf("tcpdump %q: %v", expr, err)
	}
	insns, ok := bpf.Disassemble(raw)
	if !ok {
		t.Logf("tcpdump %q: some instructions did not disassemble", expr)
	}
	return insns, ""
}

var ddLine = regexp.MustCompile(`^\{ 0x([0-9a-f]+), (\d+), (\d+), 0x([0-9a-f]+) \},$`)

// parseDD parses tcpdump -dd output: one "{ code, jt, jf, k }," per line.
func parseDD(b []byte) ([]bpf.RawInstruction, error) {
	var prog []bpf.RawInstruction
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		m := ddLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			return nil, fmt.Errorf("bad -dd line %q", sc.Text())
		}
		code, _ := strconv.ParseUint(m[1], 16, 16)
		jt, _ := strconv.ParseUint(m[2], 10, 8)
		jf, _ := strconv.ParseUint(m[3], 10, 8)
		k, _ := strconv.ParseUint(m[4], 16, 32)
		prog = append(prog, bpf.RawInstruction{Op: uint16(code), Jt: uint8(jt), Jf: uint8(jf), K: uint32(k)})
	}
	return prog, sc.Err()
}

func needTcpdump(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tcpdump"); err != nil {
		skip.Unavailable(t, "tcpdump (libpcap) not installed: the differential test needs its -dd output")
	}
}

var linkTypes = []LinkType{Ethernet, RawIP, LinuxSLL, LinuxSLL2}

// TestAgainstLibpcap compiles every expression with this package and with
// libpcap and runs both on every frame of the corpus in x/net/bpf's VM.
func TestAgainstLibpcap(t *testing.T) {
	needTcpdump(t)
	all := corpus(t)
	runs, programs, accepted := 0, 0, 0
	for _, lt := range linkTypes {
		frames := framesFor(all, lt)
		for _, expr := range append(diffExprs, bigExprs()...) {
			ref, refErr := tcpdumpProgram(t, expr, lt)
			p, err := Compile(expr, lt)
			if refErr != "" {
				if err == nil {
					t.Errorf("%v %q: compiled, libpcap refuses: %s", lt, expr, refErr)
				}
				continue
			}
			if err != nil {
				t.Errorf("%v %q: %v (libpcap compiles it)", lt, expr, err)
				continue
			}
			vm, err := bpf.NewVM(ref)
			if err != nil {
				t.Errorf("%v %q: libpcap's program does not run in the VM: %v", lt, expr, err)
				continue
			}
			programs++
			for _, f := range frames {
				n, err := vm.Run(f.data)
				want := err == nil && n > 0
				if want {
					accepted++
				}
				if got := p.Match(f.data); got != want {
					t.Errorf("%v %q on %q: got %v, libpcap %v\nours:\n%vlibpcap:\n%v", lt, expr, f.name, got, want, p, listing(ref))
				}
				runs++
			}
		}
	}
	t.Logf("%d expressions x %d link types: %d programs compared on %d frame runs (libpcap accepted %d)",
		len(diffExprs)+len(bigExprs()), len(linkTypes), programs, runs, accepted)
}

func listing(prog []bpf.Instruction) string {
	var b strings.Builder
	for i, ins := range prog {
		fmt.Fprintf(&b, "(%03d) %v\n", i, ins)
	}
	return b.String()
}

// TestRefusedLikeLibpcap checks that expressions libpcap rejects fail here too.
func TestRefusedLikeLibpcap(t *testing.T) {
	needTcpdump(t)
	for _, expr := range failExprs {
		if _, msg := tcpdumpProgram(t, expr, Ethernet); msg == "" {
			t.Errorf("%q: libpcap compiles it; move it to diffExprs", expr)
		}
		if _, err := Compile(expr, Ethernet); err == nil {
			t.Errorf("%q: compiled, want an error", expr)
		} else if errors.Is(err, ErrUnsupported) {
			t.Errorf("%q: %v: want a plain error, not ErrUnsupported", expr, err)
		}
	}
}

// bigExprs are long expressions whose programs need jumps over 255
// instructions.
func bigExprs() []string {
	var ports, hosts []string
	for i := 1; i <= 40; i++ {
		ports = append(ports, strconv.Itoa(6980+i))
		hosts = append(hosts, fmt.Sprintf("10.0.0.%d", 100+i))
	}
	return []string{
		"port " + strings.Join(ports, " or "),
		"not (host " + strings.Join(hosts, " or ") + ") and tcp",
		"tcp and (port " + strings.Join(ports, " or port ") + ") and not host 10.0.0.3",
		"(src host " + strings.Join(hosts, " or ") + ") or port 7001 or udp",
	}
}

// TestAgainstLibpcapRequired runs TestAgainstLibpcap in a child process
// whose PATH has no tcpdump: with ZMTPDUMP_REQUIRE_E2E=1 (as in CI) the
// comparison the README cites must fail, not skip.
func TestAgainstLibpcapRequired(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestAgainstLibpcap$", "-test.v")
	cmd.Env = append(os.Environ(), "PATH="+t.TempDir(), skip.EnvRequire+"=1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--- FAIL: TestAgainstLibpcap") || !strings.Contains(string(out), "tcpdump (libpcap) not installed") {
		t.Errorf("without tcpdump and with %s=1, TestAgainstLibpcap did not fail for it (err %v):\n%s", skip.EnvRequire, err, out)
	}
}
