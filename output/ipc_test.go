package output

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

func TestAppendEnd(t *testing.T) {
	ipc := &segment.IPC{Path: "/run/x\x1b.ipc", ClientPID: 12, ClientComm: "cli", ClientInode: 5, ServerInode: 7}
	tcp := netip.MustParseAddrPort("10.0.0.1:7001")
	for _, tt := range []struct {
		ap   netip.AddrPort
		ipc  *segment.IPC
		want string
	}{
		{tcp, nil, "10.0.0.1:7001"},
		{tcp, ipc, "10.0.0.1:7001"}, // not a synthetic address
		{segment.IPCAddr(5, false), nil, "[fd7a:6970:6300::5]:2"},
		{segment.IPCAddr(5, false), ipc, "pid 12 (cli)"},
		{segment.IPCAddr(7, true), ipc, `socket:[7] /run/x\x1b.ipc`}, // no send seen: its inode; the path escaped
	} {
		if got := EndName(tt.ap, tt.ipc); got != tt.want {
			t.Errorf("EndName(%v) = %q, want %q", tt.ap, got, tt.want)
		}
	}
}

// TestIPCEventLines: an ipc event names its ends in text and JSON, JSON
// adds transport and path; a TCP event printed after it is as before.
func TestIPCEventLines(t *testing.T) {
	ipc := &segment.IPC{Path: "/x.ipc", ClientPID: 1, ClientComm: "a", ServerPID: 2, ServerComm: "b", ClientInode: 5, ServerInode: 7}
	at := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	msg := &zmtp.Message{Frames: []zmtp.Frame{{Size: 1, Data: []byte("1")}}, Bytes: 1}
	tcpSrc, tcpDst := netip.MustParseAddrPort("127.0.0.1:5000"), netip.MustParseAddrPort("127.0.0.1:7001")
	lines := []Line{
		{Time: at, Src: segment.IPCAddr(5, false), Dst: segment.IPCAddr(7, true), IPC: ipc},
		{Time: at, Src: tcpSrc, Dst: tcpDst},
	}
	var text, js bytes.Buffer
	tp, jp := NewText(&text, Options{Location: time.UTC}), NewJSON(&js)
	for i := range lines {
		if err := tp.Event(&lines[i], msg); err != nil {
			t.Fatal(err)
		}
		if err := jp.Event(&lines[i], msg); err != nil {
			t.Fatal(err)
		}
	}
	tp.Flush()
	jp.Flush()
	tl := strings.Split(text.String(), "\n")
	if !strings.HasPrefix(tl[0], "05:00:00.000000 pid 1 (a) > pid 2 (b) /x.ipc: message") ||
		!strings.HasPrefix(tl[1], "05:00:00.000000 127.0.0.1:5000 > 127.0.0.1:7001: message") {
		t.Errorf("text:\n%s", text.String())
	}
	jl := strings.Split(js.String(), "\n")
	if !strings.HasPrefix(jl[0], `{"ts":"2026-12-02T05:00:00.000000000Z","src":"pid 1 (a)","dst":"pid 2 (b) /x.ipc","event":"message","transport":"ipc","path":"/x.ipc",`) ||
		!strings.HasPrefix(jl[1], `{"ts":"2026-12-02T05:00:00.000000000Z","src":"127.0.0.1:5000","dst":"127.0.0.1:7001","event":"message","frames"`) {
		t.Errorf("JSON:\n%s", js.String())
	}
}

// TestIPCJSONPath: the JSON "path" of an odd path is the text that ends
// its dst (control bytes and non-UTF-8 bytes as \xNN, a backslash
// doubled), JSON-escaped once: decoded, the two agree and hold no control
// byte.
func TestIPCJSONPath(t *testing.T) {
	ipc := &segment.IPC{Path: "/tmp/e\x1b[31m\xff\n\"q\\.ipc", ClientPID: 1, ClientComm: "a", ServerPID: 2, ServerComm: "b", ClientInode: 5, ServerInode: 7}
	var js bytes.Buffer
	jp := NewJSON(&js)
	l := Line{Time: time.Unix(0, 0), Src: segment.IPCAddr(5, false), Dst: segment.IPCAddr(7, true), IPC: ipc}
	if err := jp.Event(&l, &zmtp.Message{Frames: []zmtp.Frame{{Size: 1, Data: []byte("1")}}, Bytes: 1}); err != nil {
		t.Fatal(err)
	}
	jp.Flush()
	var ev struct{ Dst, Path string }
	if err := json.Unmarshal(js.Bytes(), &ev); err != nil {
		t.Fatalf("%v: %s", err, js.String())
	}
	want := `/tmp/e\x1b[31m\xff\x0a"q\\.ipc`
	if ev.Path != want || PathText(ipc.Path) != want || !strings.HasSuffix(ev.Dst, " "+want) {
		t.Errorf("path %q, dst %q, PathText %q; want %q", ev.Path, ev.Dst, PathText(ipc.Path), want)
	}
}
