package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
)

// The ipc:// checks run first, under the lockdown the machine booted with
// (integrity, what Debian 12 runs under Secure Boot: BPF may read kernel
// memory); checkRaiseLockdown (lockdown.go) then raises it to
// confidentiality, under which --ipc must be refused and the other checks
// run.

// ipcDir holds the checks' sockets.
const ipcDir = "/tmp/x"

// ipcEvent is a JSON line of an ipc capture, the fields the checks read.
type ipcEvent struct {
	Src, Dst, Event, Transport, Path, Name string
	Frames                                 []struct {
		Size      int
		DataHex   string `json:"data_hex"`
		Truncated bool
	}
}

// ipcEvents parses zmtpdump --json's lines (the stats line as an event
// "stats").
func ipcEvents(out string) ([]ipcEvent, error) {
	var evs []ipcEvent
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var ev ipcEvent
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			return nil, fmt.Errorf("zmtpdump --json line %.200q: %w", l, err)
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

// frames returns an event's frame bodies; a frame whose data is not all
// there is an error.
func (ev *ipcEvent) frames() ([][]byte, error) {
	var out [][]byte
	for i, f := range ev.Frames {
		b, err := hex.DecodeString(f.DataHex)
		if err != nil {
			return nil, err
		}
		if len(b) != f.Size || f.Truncated {
			return nil, fmt.Errorf("frame %d of %d bytes shows %d (truncated %v)", i+1, f.Size, len(b), f.Truncated)
		}
		out = append(out, b)
	}
	return out, nil
}

// gozmqMessage is gozmq's message i under -mix (the shapes as there).
func gozmqMessage(i int, mix []string) [][]byte {
	sh := mix[(i-1)%len(mix)]
	multipart := strings.HasPrefix(sh, "m")
	size, _ := strconv.Atoi(strings.TrimPrefix(sh, "m"))
	body := []byte(strconv.Itoa(i))
	if size > len(body) {
		body = append(body, bytes.Repeat([]byte("x"), size-len(body))...)
	}
	if multipart {
		return [][]byte{[]byte("hello"), body}
	}
	return [][]byte{body}
}

// describe names frames by size and SHA-256, for the details.
func describe(frames [][]byte) string {
	var s []string
	for _, f := range frames {
		sum := sha256.Sum256(f)
		s = append(s, fmt.Sprintf("%d bytes sha256 %x", len(f), sum[:8]))
	}
	return strings.Join(s, " | ")
}

// peerName is how zmtpdump names the end of a gozmq process.
func peerName(c *exec.Cmd) string { return fmt.Sprintf("pid %d (gozmq)", c.Process.Pid) }

// freshSocketPath makes ipcDir and removes a socket file left at name.
func freshSocketPath(name string) (string, error) {
	if err := os.MkdirAll(ipcDir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(ipcDir, name)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	return path, nil
}

// waitSocket waits for a socket file to appear at path.
func waitSocket(path string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		if fi, err := os.Stat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no socket at %s after %v", path, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkIPCPushPull: a go-zeromq PUSH → PULL over ipc:// (bound before
// zmtpdump --ipc starts, connected after) carrying a single-frame, a
// multipart, a 256 KiB and a 1 MiB message: every frame exact, both
// greetings and READYs, every event "transport":"ipc" with the path, the
// ends named by the peers' pids, nothing lost.
func checkIPCPushPull(e *env) (string, error) {
	if err := waitNoProgs("an earlier check"); err != nil {
		return "", err
	}
	path, err := freshSocketPath("a.ipc")
	if err != nil {
		return "", err
	}
	ep := "ipc://" + path
	mix := []string{"0", "m0", "262144", "1048576"}
	recv := exec.Command(e.gozmq, "-type", "pull", "-bind", ep, "-count", strconv.Itoa(len(mix)), "-timeout", "300s")
	var rout bytes.Buffer
	recv.Stdout, recv.Stderr = &rout, &rout
	if err := recv.Start(); err != nil {
		return "", fmt.Errorf("start the receiver: %w", err)
	}
	defer func() {
		recv.Process.Kill()
		recv.Wait()
	}()
	if err := waitSocket(path, 30*time.Second); err != nil {
		return rout.String(), err
	}
	d, err := startDump(e, "--ipc", path, "--json", "-s", "2000000")
	if err != nil {
		return "", err
	}
	defer d.kill()
	send := exec.Command(e.gozmq, "-type", "push", "-connect", ep, "-count", strconv.Itoa(len(mix)), "-mix", strings.Join(mix, ","), "-timeout", peerLimit)
	sout, serr := send.CombinedOutput()
	rerr := recv.Wait()
	out, errOut, stopErr := d.stop()
	details := "stdout (cut):\n" + short(out) + "stderr:\n" + errOut
	switch {
	case serr != nil:
		return details, fmt.Errorf("sender: %v: %s", serr, sout)
	case rerr != nil:
		return details, fmt.Errorf("receiver: %v: %s", rerr, rout.String())
	case stopErr != nil:
		return details, stopErr
	}
	evs, err := ipcEvents(out)
	if err != nil {
		return details, err
	}

	pusher, puller := peerName(send), peerName(recv)+" "+path
	var problems []string
	var msgs []ipcEvent
	greetings, readies := map[string]int{}, map[string]int{}
	for _, ev := range evs {
		if ev.Event == "stats" {
			continue
		}
		if ev.Transport != "ipc" || ev.Path != path {
			problems = append(problems, fmt.Sprintf("%s event %s > %s: transport %q path %q, want ipc %s", ev.Event, ev.Src, ev.Dst, ev.Transport, ev.Path, path))
		}
		dir := ev.Src + " > " + ev.Dst
		switch {
		case ev.Event == "gap" || ev.Event == "error" || ev.Event == "resync":
			problems = append(problems, fmt.Sprintf("%s event %s", ev.Event, dir))
		case ev.Event == "greeting":
			greetings[dir]++
		case ev.Event == "command" && ev.Name == "READY":
			readies[dir]++
		case ev.Event == "message" && dir == pusher+" > "+puller:
			msgs = append(msgs, ev)
		case ev.Event == "message":
			problems = append(problems, "a message "+dir)
		}
	}
	for _, dir := range []string{pusher + " > " + puller, puller + " > " + pusher} {
		if greetings[dir] != 1 || readies[dir] != 1 {
			problems = append(problems, fmt.Sprintf("%s: %d greetings and %d READY, want 1 and 1", dir, greetings[dir], readies[dir]))
		}
	}
	if len(msgs) != len(mix) {
		problems = append(problems, fmt.Sprintf("%d messages %s > %s, want %d", len(msgs), pusher, puller, len(mix)))
	}
	var shown []string
	for i, m := range msgs[:min(len(msgs), len(mix))] {
		want := gozmqMessage(i+1, mix)
		if e.sabotage && i == len(mix)-1 {
			want[len(want)-1][len(want[len(want)-1])-1] = 'y' // vmtest.sabotage: the 1 MiB message's last byte
		}
		got, err := m.frames()
		if err != nil {
			problems = append(problems, fmt.Sprintf("message %d: %v", i+1, err))
			continue
		}
		shown = append(shown, fmt.Sprintf("message %d: %s", i+1, describe(got)))
		if len(got) != len(want) {
			problems = append(problems, fmt.Sprintf("message %d: %d frames, want %d", i+1, len(got), len(want)))
			continue
		}
		for j := range want {
			if !bytes.Equal(got[j], want[j]) {
				problems = append(problems, fmt.Sprintf("message %d frame %d: %s, want %s", i+1, j+1, describe(got[j:j+1]), describe(want[j:j+1])))
			}
		}
	}
	details = strings.Join(shown, "\n") + "\n" + details
	st := d.stats(&problems)
	if !st.IPC || st.IPCConnections != 1 || st.IPCLost != 0 || st.IPCCut != 0 || st.IPCMissed != 0 || st.Gaps != 0 || st.BytesLost != 0 {
		problems = append(problems, fmt.Sprintf("stats: %d ipc connections, %d lost, %d cut, %d missed, %d gaps, %d bytes lost; want 1 and zeros",
			st.IPCConnections, st.IPCLost, st.IPCCut, st.IPCMissed, st.Gaps, st.BytesLost))
	}
	if err := waitNoProgs("SIGINT"); err != nil {
		problems = append(problems, err.Error())
	}
	return details, joinProblems(problems)
}

// checkIPCJoinMidStream: a go-zeromq PUSH → PULL over ipc:// already
// sending (every 50 ms) when zmtpdump --ipc starts is joined mid-stream: a
// resync toward the server, then the messages in order from some counter
// on, none sent before the start, every one that arrived 1 s or more
// after zmtpdump said it was listening among them.
func checkIPCJoinMidStream(e *env) (string, error) {
	if err := waitNoProgs("an earlier check"); err != nil {
		return "", err
	}
	path, err := freshSocketPath("join.ipc")
	if err != nil {
		return "", err
	}
	const (
		sent     = 2000 // far more than the check waits for: the peers are killed
		settle   = time.Second
		watch    = 2 * time.Second // after settling
		interval = "50ms"
	)
	ep := "ipc://" + path
	recv, err := livetest.StartReceiver(exec.Command(e.gozmq, "-type", "pull", "-bind", ep, "-count", fmt.Sprint(sent), "-print", "-timeout", "600s"))
	if err != nil {
		return "", err
	}
	defer recv.Kill()
	if err := waitSocket(path, 30*time.Second); err != nil {
		return "", err
	}
	send := exec.Command(e.gozmq, "-type", "push", "-connect", ep, "-count", fmt.Sprint(sent), "-interval", interval, "-timeout", "600s")
	var sendOut livetest.Buffer
	send.Stdout, send.Stderr = &sendOut, &sendOut
	if err := send.Start(); err != nil {
		return "", fmt.Errorf("start the sender: %w", err)
	}
	defer func() {
		send.Process.Kill()
		send.Wait()
	}()
	if err := recv.WaitCount(10, startLimit); err != nil {
		return "sender:\n" + sendOut.String(), err
	}

	startLo := time.Now()
	d, err := startDump(e, "--ipc", path, "--json")
	if err != nil {
		return "", err
	}
	defer d.kill()
	startHi := time.Now()
	time.Sleep(settle + watch)
	stopAt := time.Now()
	out, errOut, stopErr := d.stop()
	details := "stdout (cut):\n" + short(out) + "stderr:\n" + errOut
	if stopErr != nil {
		return details, stopErr
	}
	evs, err := ipcEvents(out)
	if err != nil {
		return details, err
	}
	before := len(recv.Between(time.Time{}, startLo))
	required := recv.Between(startHi.Add(settle), stopAt)
	if len(required) < 5 {
		return details, fmt.Errorf("only %d messages arrived in the %v watched: the check proves little", len(required), watch)
	}

	var problems []string
	sender, toServer := peerName(send), " "+path
	resyncs, first, last := 0, 0, 0
	for _, ev := range evs {
		if ev.Event == "stats" {
			continue
		}
		if ev.Transport != "ipc" || ev.Path != path {
			problems = append(problems, fmt.Sprintf("%s event %s > %s: transport %q path %q", ev.Event, ev.Src, ev.Dst, ev.Transport, ev.Path))
		}
		if ev.Src != sender || !strings.HasSuffix(ev.Dst, toServer) {
			continue
		}
		switch ev.Event {
		case "resync":
			if first != 0 {
				problems = append(problems, fmt.Sprintf("a resync after message %d", last))
			}
			resyncs++
		case "gap", "error":
			problems = append(problems, ev.Event+" event toward the server")
		case "message":
			fr, err := ev.frames()
			if err != nil || len(fr) != 1 {
				problems = append(problems, fmt.Sprintf("a message of %d frames (%v)", len(fr), err))
				continue
			}
			n, _ := strconv.Atoi(string(fr[0]))
			switch {
			case n <= before || n > sent:
				problems = append(problems, fmt.Sprintf("message %q decoded, but it was sent before zmtpdump started (%d were) or never", fr[0], before))
			case first != 0 && n != last+1:
				problems = append(problems, fmt.Sprintf("message %d decoded after %d", n, last))
			}
			if first == 0 {
				first = n
			}
			last = n
		}
	}
	if resyncs != 1 {
		problems = append(problems, fmt.Sprintf("%d resync events toward the server, want 1 (before the first message)", resyncs))
	}
	reqFirst, _ := strconv.Atoi(required[0].Body)
	reqLast, _ := strconv.Atoi(required[len(required)-1].Body)
	if e.sabotage {
		reqLast = sent + 1 // vmtest.sabotage: a message never sent
	}
	if first == 0 || first > reqFirst || last < reqLast {
		problems = append(problems, fmt.Sprintf("decoded messages %d to %d from %s; every message from %d (arrived %v after zmtpdump started) to %d must be there",
			first, last, sender, reqFirst, settle, reqLast))
	}
	if st := d.stats(&problems); st.IPCLost != 0 || st.IPCCut != 0 || st.IPCConnections != 1 {
		problems = append(problems, fmt.Sprintf("stats: %d ipc connections, %d lost, %d cut; want 1, 0, 0", st.IPCConnections, st.IPCLost, st.IPCCut))
	}
	if err := waitNoProgs("SIGINT"); err != nil {
		problems = append(problems, err.Error())
	}
	return details + fmt.Sprintf("decoded %d to %d; %d had arrived before the start\n", first, last, before), joinProblems(problems)
}

// checkIPCSignals: a zmtpdump --ipc stopped by SIGTERM, or killed
// outright, leaves no ipc_* program behind (they are attached through
// perf event descriptors and bpf_links of the process), nor the private
// tracefs mount it reads the tracepoint ids from. SIGINT is covered by
// the checks above.
func checkIPCSignals(e *env) (string, error) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		if err := waitNoProgs("an earlier check"); err != nil {
			return "", err
		}
		d, err := startDump(e, "--ipc", ipcDir+"/*.ipc")
		if err != nil {
			return "", err
		}
		ids, err := zmtpdumpProgs()
		if err != nil {
			d.kill()
			return "", err
		}
		if n := countPrefix(ids, "ipc_"); n == 0 {
			d.kill()
			return d.Stderr.String(), fmt.Errorf("zmtpdump --ipc is capturing but no ipc_* program is loaded: the check would prove nothing")
		}
		if e.sabotage {
			// vmtest.sabotage: look for leftovers before the signal.
			if err := noLeftovers("nothing yet (vmtest.sabotage)"); err != nil {
				d.kill()
				return d.Stderr.String(), err
			}
		}
		d.Cmd.Process.Signal(sig)
		select {
		case <-time.After(stopLimit):
			d.kill()
			return d.Stderr.String(), fmt.Errorf("zmtpdump --ipc did not exit within %v of %v", stopLimit, sig)
		case <-d.Exited():
			err = d.Wait()
			d.kill()
		}
		if sig != syscall.SIGKILL && err != nil {
			return d.Stderr.String(), fmt.Errorf("exit after %v: %w", sig, err)
		}
		if err := waitNoProgs(sig.String()); err != nil {
			return "", err
		}
		if err := noLeftovers(sig.String()); err != nil {
			return "", err
		}
	}
	return "", nil
}

// noLeftovers reports zmtpdump's programs still loaded, a tracefs still
// mounted or a private tracefs directory left in the temporary directory.
func noLeftovers(after string) error {
	ids, err := zmtpdumpProgs()
	if err != nil {
		return err
	}
	var problems []string
	if len(ids) > 0 {
		problems = append(problems, fmt.Sprintf("after %s, zmtpdump's programs are loaded: %v", after, ids))
	}
	if mi, err := os.ReadFile("/proc/self/mountinfo"); err != nil {
		problems = append(problems, err.Error())
	} else if strings.Contains(string(mi), " - tracefs ") {
		problems = append(problems, "after "+after+", a tracefs is mounted:\n"+string(mi))
	}
	if left, _ := filepath.Glob(filepath.Join(os.TempDir(), "zmtpdump-tracefs-*")); len(left) > 0 {
		problems = append(problems, fmt.Sprintf("after %s, left in %s: %q", after, os.TempDir(), left))
	}
	return joinProblems(problems)
}

// short cuts a long output for the details.
func short(s string) string {
	if len(s) > 4000 {
		return s[:4000] + "...\n"
	}
	return s
}
