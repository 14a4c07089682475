package kernel

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// Capability is one Linux capability and whether it is effective.
type Capability struct {
	Name string
	Held bool
}

// capNumbers are the capabilities zmtpdump needs (from
// include/uapi/linux/capability.h), in display order.
var capNumbers = []struct {
	name string
	bit  uint
}{{"CAP_NET_ADMIN", 12}, {"CAP_NET_RAW", 13}, {"CAP_SYS_ADMIN", 21}, {"CAP_PERFMON", 38}, {"CAP_BPF", 39}}

// EffectiveCaps reads this process's effective capabilities, of those
// zmtpdump needs.
func EffectiveCaps() []Capability {
	var eff uint64
	if f, err := os.Open("/proc/self/status"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
				eff, _ = strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			}
		}
		f.Close()
	}
	caps := make([]Capability, len(capNumbers))
	for i, c := range capNumbers {
		caps[i] = Capability{c.name, eff&(1<<c.bit) != 0}
	}
	return caps
}

// MissingCaptureCaps names the capabilities a capture needs that this
// process lacks ("" if none): CAP_BPF to load programs and maps,
// CAP_NET_ADMIN to attach them; CAP_SYS_ADMIN stands in for both, as it
// does in the kernel. (CAP_PERFMON only relaxes the verifier's Spectre
// rules, which the capture program does not need: measured on 6.18. The
// process tracker's tracing program does need it.)
func MissingCaptureCaps() string { return MissingCaps("CAP_BPF", "CAP_NET_ADMIN") }

// MissingCaps names those of the capabilities that this process lacks,
// "" if it holds CAP_SYS_ADMIN or them all.
func MissingCaps(names ...string) string {
	held := make(map[string]bool)
	for _, c := range EffectiveCaps() {
		held[c.Name] = c.Held
	}
	if held["CAP_SYS_ADMIN"] {
		return ""
	}
	var missing []string
	for _, name := range names {
		if !held[name] {
			missing = append(missing, name)
		}
	}
	return strings.Join(missing, ", ")
}
