package loader

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestQuoteName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"eth0", "eth0"},
		{"veth-a.1_b@x", "veth-a.1_b@x"},
		{"e\x1b[31m", `"e\x1b[31m"`},
		{"tab\there", `"tab\there"`},
		{`q"uote`, `"q\"uote"`},
		{"caf\xc3\xa9", `"café"`},
		{"bad\xff", `"bad\xff"`},
	} {
		if got := quoteName(tc.in); got != tc.want {
			t.Errorf("quoteName(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// ipCmd runs iproute2's ip.
func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// followNamespace makes a network namespace for the test, named with
// prefix, with lo up, and a veth pair a/b in it, up (extra: more "ip link
// add" arguments for a, such as its index, and "peer name b ...").
func followNamespace(t *testing.T, prefix, a, b string, extra ...string) string {
	t.Helper()
	requireBPF(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("iproute2's ip is needed for this test")
	}
	ns := prefix + fmt.Sprint(time.Now().UnixNano()%100000)
	ipCmd(t, "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	ipCmd(t, "-n", ns, "link", "set", "lo", "up")
	if len(extra) == 0 {
		extra = []string{"type", "veth", "peer", "name", b}
	}
	ipCmd(t, append([]string{"-n", ns, "link", "add", a}, extra...)...)
	ipCmd(t, "-n", ns, "link", "set", a, "up")
	ipCmd(t, "-n", ns, "link", "set", b, "up")
	return ns
}

// TestFollowResync: when the subscription to link events ends by itself
// (its socket overflowed: events were lost), the capture subscribes again
// and lists the interfaces anew, so that those that vanished and came up
// while no event was read are still dropped and taken on. The changes are
// made while the first subscription is gone.
func TestFollowResync(t *testing.T) {
	s := fmt.Sprint(time.Now().UnixNano() % 100000)
	a, b, c2, d := "zla"+s, "zlb"+s, "zlc"+s, "zld"+s
	ns := followNamespace(t, "zlf", a, b)
	c, err := Open(Config{Netns: "/var/run/netns/" + ns, Interfaces: []string{AnyInterface}, RingSize: 1 << 20, Backend: Socket})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := c.Interfaces()
	slices.Sort(got)
	if want := []string{"lo", a, b}; !slices.Equal(got, want) {
		t.Fatalf("capturing on %q, want %q", got, want)
	}

	// The first subscription ends, unread events with it.
	old := c.follow.watch
	old.close()
	ipCmd(t, "-n", ns, "link", "del", a) // b goes with it
	ipCmd(t, "-n", ns, "link", "add", c2, "type", "veth", "peer", "name", d)
	ipCmd(t, "-n", ns, "link", "set", c2, "up")
	ipCmd(t, "-n", ns, "link", "set", d, "up")
	old.take()
	old.note(func() { old.lost = true })

	changes, err := c.CheckInterfaces()
	if err != nil {
		t.Fatal(err)
	}
	var said []string
	for _, ch := range changes {
		what := "added "
		if ch.Removed {
			what = "removed "
		}
		if ch.Err != nil {
			what = "failed " + ch.Err.Error() + " "
		}
		said = append(said, what+ch.Name)
	}
	slices.Sort(said)
	want := []string{"added " + c2, "added " + d, "removed " + a, "removed " + b}
	slices.Sort(want)
	if diff := cmp.Diff(want, said); diff != "" {
		t.Errorf("changes after the resync (-want +got):\n%s", diff)
	}
	if added, removed := c.InterfaceCounts(); added != 2 || removed != 2 {
		t.Errorf("counts: %d added, %d removed, want 2 and 2", added, removed)
	}
	if c.follow.watch == old || c.follow.watch == nil {
		t.Fatal("no new subscription")
	}
	// The new subscription works: a deletion is reported.
	ipCmd(t, "-n", ns, "link", "del", c2)
	deadline := time.Now().Add(5 * time.Second)
	for removed := 0; removed < 2; {
		changes, err := c.CheckInterfaces()
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range changes {
			if ch.Removed {
				removed++
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %s and %s reported removed", removed, c2, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFollowIndexReuse: an interface deleted and another created with its
// index before the capture looks at the link events (which keep the latest
// news of an index) is not taken for a rename of the first: the new one is
// attached to, the old one reported removed.
func TestFollowIndexReuse(t *testing.T) {
	s := fmt.Sprint(time.Now().UnixNano() % 100000)
	a, b, c2, d := "zra"+s, "zrb"+s, "zrc"+s, "zrd"+s
	ns := followNamespace(t, "zlr", a, b, "index", "4242", "type", "veth", "peer", "name", b, "index", "4243")
	c, err := Open(Config{Netns: "/var/run/netns/" + ns, Interfaces: []string{AnyInterface}, RingSize: 1 << 20, Backend: Socket})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ipCmd(t, "-n", ns, "link", "del", a)
	ipCmd(t, "-n", ns, "link", "add", c2, "index", "4242", "type", "veth", "peer", "name", d, "index", "4243")
	ipCmd(t, "-n", ns, "link", "set", c2, "up")
	ipCmd(t, "-n", ns, "link", "set", d, "up")
	time.Sleep(200 * time.Millisecond) // the events arrive, unread
	want := []string{"lo", c2, d}
	slices.Sort(want)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := c.CheckInterfaces(); err != nil {
			t.Fatal(err)
		}
		got := c.Interfaces()
		slices.Sort(got)
		if slices.Equal(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("capturing on %q, want %q", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if added, removed := c.InterfaceCounts(); added != 2 || removed != 2 {
		t.Errorf("counts: %d added, %d removed, want 2 and 2", added, removed)
	}
}
