package filter

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/bpf"
)

func TestLex(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"tcp[tcpflags]&tcp-syn!=0", []string{"tcp", "[", "tcpflags", "]", "&", "tcp-syn", "!=", "0"}},
		{"tcp[13:1] >= 0x12", []string{"tcp", "[", "13", ":", "1", "]", ">=", "0x12"}},
		{"host ::1 or fe80::1", []string{"host", "::1", "or", "fe80::1"}},
		{"len-14>100", []string{"len", "-", "14", ">", "100"}},
		{"portrange 7000-7010", []string{"portrange", "7000", "-", "7010"}},
		{"icmp6[icmp6type]=icmp6-echo", []string{"icmp6", "[", "icmp6type", "]", "=", "icmp6-echo"}},
		{"!arp&&(ip||ip6)", []string{"!", "arp", "&&", "(", "ip", "||", "ip6", ")"}},
		{"proto \\tcp", []string{"proto", "tcp"}},
		{"ip[0]<<2>>1", []string{"ip", "[", "0", "]", "<<", "2", ">>", "1"}},
	}
	for _, tt := range tests {
		toks, err := lex(tt.in)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		var got []string
		for _, tok := range toks[:len(toks)-1] {
			got = append(got, tok.text)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%q: (-want +got)\n%s", tt.in, diff)
		}
	}
	if _, err := lex("port 80 # comment"); err == nil {
		t.Error("'#' lexed")
	}
}

// TestUnsupported lists valid pcap-filter this package refuses: each must
// fail with ErrUnsupported and name the offending token.
func TestUnsupported(t *testing.T) {
	tests := []struct{ in, token string }{
		{"ether host 02:00:00:00:00:01", `"ether"`},
		{"ether proto 0x800", `"ether"`},
		{"ether src 02:00:00:00:00:01", `"ether"`},
		{"link proto 1", `"link"`},
		{"gateway 10.0.0.1", `"gateway"`},
		{"host example.com", `"example.com"`},
		{"host 10.0.0.1 or localhost", `"localhost"`},
		{"net localnet", `"localnet"`},
		{"port http", `"http"`},
		{"tcp port 80 or ssh", `"ssh"`},
		{"ip proto ospf", `"ospf"`},
		{"ip proto \\ospf", `"ospf"`},
		{"ip broadcast", `"broadcast"`},
		{"ether multicast", `"ether"`},
		{"ip multicast", `"multicast"`},
		{"ip protochain 6", `"protochain"`},
		{"mpls", `"mpls"`},
		{"pppoes", `"pppoes"`},
		{"geneve", `"geneve"`},
		{"vxlan", `"vxlan"`},
		{"inbound", `"inbound"`},
		{"ifname eth0", `"ifname"`},
		{"llc", `"llc"`},
		{"wlan type mgt", `"wlan"`},
		{"decnet host 1.2", `"decnet"`},
		{"iso", `"iso"`},
		{"stp", `"stp"`},
		{"atalk", `"atalk"`},
		{"tcp and esp[0] = 1", `esp[...]`},
		{"ah[0] = 1", `ah[...]`},
		{"not (port 7001 or carp)", `"carp"`},
	}
	for _, tt := range tests {
		_, err := Compile(tt.in, Ethernet)
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("%q: error %v, want ErrUnsupported", tt.in, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.token) {
			t.Errorf("%q: error %q does not name %s", tt.in, err, tt.token)
		}
	}
}

func TestSyntaxErrorsNameToken(t *testing.T) {
	tests := []struct{ in, want string }{
		{"port 80 or", "end of expression"},
		{"tcp and 80", `"80"`},
		{"port 80)", `")"`},
		{"(port 80", "end of expression"},
		{"ip[0] = = 1", `"="`},
		{"host 1.2.3.4.5", `"1.2.3.4.5"`},
	}
	for _, tt := range tests {
		_, err := Compile(tt.in, Ethernet)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want one naming %s", tt.in, err, tt.want)
		}
		if errors.Is(err, ErrUnsupported) {
			t.Errorf("%q: a syntax error wraps ErrUnsupported: %v", tt.in, err)
		}
	}
}

func TestEmptyAcceptsAll(t *testing.T) {
	for _, lt := range linkTypes {
		p, err := Compile("  ", lt)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]bpf.Instruction{bpf.RetConstant{Val: acceptValue}}, p.CBPF()); diff != "" {
			t.Errorf("%v: (-want +got)\n%s", lt, diff)
		}
		if !p.Match(nil) || !p.Match([]byte{1, 2, 3}) {
			t.Errorf("%v: empty filter rejects", lt)
		}
	}
	if _, err := Compile("ip", LinkType(99)); !errors.Is(err, ErrUnsupported) {
		t.Errorf("unknown link type: %v", err)
	}
}

func TestVLANOnlyOnEthernet(t *testing.T) {
	for _, lt := range []LinkType{RawIP, LinuxSLL, LinuxSLL2} {
		if _, err := Compile("vlan and tcp", lt); err == nil {
			t.Errorf("%v: vlan compiled", lt)
		}
	}
}

// TestLongJumps checks that programs longer than a conditional jump's
// 8-bit reach route far jumps through "ja" and stay valid.
func TestLongJumps(t *testing.T) {
	for _, expr := range bigExprs() {
		p, err := Compile(expr, Ethernet)
		if err != nil {
			t.Fatal(err)
		}
		insns := p.CBPF()
		far := 0
		for _, ins := range insns {
			if j, ok := ins.(bpf.Jump); ok && j.Skip > 255 {
				far++
			}
		}
		if len(insns) <= 256 || far == 0 {
			t.Errorf("%.40q...: %d instructions, %d far jumps: not a long-jump test", expr, len(insns), far)
		}
		if _, err := bpf.NewVM(insns); err != nil {
			t.Errorf("%.40q...: %v", expr, err)
		}
	}
}

func TestTooLarge(t *testing.T) {
	var hosts []string
	for i := 0; i < 400; i++ {
		hosts = append(hosts, "10.0.1."+strings.Repeat("1", 1+i%3))
	}
	_, err := Compile("host "+strings.Join(hosts, " or "), Ethernet)
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "4096") {
		t.Errorf("huge filter: %v, want ErrUnsupported naming the 4096 limit", err)
	}
}

func TestDivisionByZeroRejects(t *testing.T) {
	// libpcap's optimiser refuses this; unoptimised, it divides by a zero X
	// at run time, which rejects the packet.
	p, err := Compile("ip[8] / (ip[0] & 0) = 0", Ethernet)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range corpus(t) {
		if p.Match(f.data) {
			t.Errorf("%q accepted", f.name)
		}
	}
}

func TestString(t *testing.T) {
	p, err := Compile("tcp port 7001", Ethernet)
	if err != nil {
		t.Fatal(err)
	}
	s := p.String()
	for _, want := range []string{`"tcp port 7001" on EN10MB`, "ldh [12]", "ret #262144"} {
		if !strings.Contains(s, want) {
			t.Errorf("String() lacks %q:\n%s", want, s)
		}
	}
}
