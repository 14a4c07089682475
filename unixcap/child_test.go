package unixcap

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// childEnv makes the test binary a helper process (see TestMain): its
// value names the role.
const childEnv = "UNIXCAP_TEST_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "send-passed-fd":
		os.Exit(childSendPassedFD())
	case "attach":
		os.Exit(childAttach())
	case "unrelated":
		os.Exit(childUnrelated())
	case "write-fd3":
		os.Exit(childWriteFD3())
	}
	os.Exit(2)
}

// childSendPassedFD receives a descriptor over fd 3 (SCM_RIGHTS) and sends
// "from the child" on it.
func childSendPassedFD() int {
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(3, buf, oob, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "recvmsg:", err)
		return 1
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		fmt.Fprintln(os.Stderr, "control message:", err)
		return 1
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		fmt.Fprintln(os.Stderr, "rights:", err)
		return 1
	}
	if _, err := unix.Write(fds[0], []byte("from the child")); err != nil {
		fmt.Fprintln(os.Stderr, "write:", err)
		return 1
	}
	return 0
}

// childWriteFD3 sends "from the child" on the descriptor it inherited as
// fd 3.
func childWriteFD3() int {
	if _, err := unix.Write(3, []byte("from the child")); err != nil {
		fmt.Fprintln(os.Stderr, "write:", err)
		return 1
	}
	return 0
}

// childAttach opens a capture, prints its programs' ids and waits to be
// killed.
func childAttach() int {
	c, err := Open(Config{Paths: []string{"/nonexistent/*.ipc"}, Mechanism: Mechanism(os.Getenv("UNIXCAP_MECH"))})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	var ids []string
	for _, p := range c.st.k.progs {
		info, err := p.Info()
		if err != nil {
			continue
		}
		if id, ok := info.ID(); ok {
			ids = append(ids, strconv.Itoa(int(id)))
		}
	}
	fmt.Println("ids", strings.Join(ids, " "))
	time.Sleep(time.Minute)
	return 0
}

// passFD sends fd to a child process over a socketpair and waits for it.
// With closeMine, fd is closed as soon as it was sent (before the child
// is done with it).
func passFD(t *testing.T, fd int, closeMine bool) (pid int) {
	t.Helper()
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	mine, theirs := os.NewFile(uintptr(pair[0]), "pair"), os.NewFile(uintptr(pair[1]), "pair")
	defer mine.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=send-passed-fd")
	cmd.ExtraFiles = []*os.File{theirs}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	theirs.Close()
	if err := unix.Sendmsg(pair[0], []byte{0}, unix.UnixRights(fd), nil, 0); err != nil {
		t.Fatal(err)
	}
	if closeMine {
		unix.Close(fd)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	return cmd.Process.Pid
}

// startAttacher runs a child that attaches a capture; it returns the
// child and its programs' ids.
func startAttacher(t *testing.T, mech Mechanism) (*exec.Cmd, []uint32) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=attach", "UNIXCAP_MECH="+string(mech))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ids ") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child: %q %v", line, err)
	}
	var ids []uint32
	for _, f := range strings.Fields(line)[1:] {
		n, _ := strconv.Atoi(f)
		ids = append(ids, uint32(n))
	}
	return cmd, ids
}
