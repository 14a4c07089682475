package layering

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/zmtpdump/zmtpdump"

// allowed lists, for every package of the module, the packages of ours its
// non-test files may import (test files may also import internal/skip and
// the packages a test needs, see allowedInTests).
var allowed = map[string][]string{
	// The leaves: the shared vocabulary and the kernel objects.
	"segment":         nil,
	"filter":          nil,
	"bpf":             nil,
	"internal/kernel": nil,
	"internal/skip":   nil,
	// Analysis: knows nothing of the kernel.
	"zmtp":     {"segment"},
	"flows":    {"segment"},
	"pcapfile": {"segment", "filter"},
	"output":   {"segment", "zmtp", "diagnose"},
	"learn":    {"segment", "zmtp", "output", "diagnose"},
	"diagnose": {"segment", "zmtp"},
	"metrics":  {"segment", "zmtp", "diagnose"},
	// The kernel side.
	"loader":  {"bpf", "segment", "filter", "internal/kernel"},
	"procs":   {"bpf", "internal/kernel"},
	"probe":   {"internal/kernel", "loader", "procs", "unixcap"},
	"unixcap": {"bpf", "segment", "internal/kernel"},
	// The pipeline, and the command that wires it.
	"session":      {"segment", "filter", "flows", "zmtp", "diagnose", "output", "learn", "pcapfile", "loader", "procs", "metrics", "unixcap"},
	"cmd/zmtpdump": {"session", "probe", "loader", "filter", "flows", "diagnose", "output", "pcapfile", "metrics"},
	// Tests, tools and test programs: they run zmtpdump, they are not part of it.
	"accuracy":          nil,
	"deploy":            nil,
	"e2e":               nil,
	"e2e/ocicaps":       nil,
	"internal/livetest": nil,
	"internal/layering": nil,
	"bench":             {"internal/livetest"},
	"vmtest/guest":      {"internal/livetest"},
	"vmtest/host":       nil,
	"testpeers/gozmq":   nil,
	"testpeers/rawpeer": nil,
	"testpeers/zmqpeer": nil,
}

type pkg struct {
	ImportPath string
	Imports    []string
}

// ours lists the module packages of paths, relative to the module.
func ours(paths []string) []string {
	var out []string
	for _, p := range paths {
		if rel, ok := strings.CutPrefix(p, module+"/"); ok {
			out = append(out, rel)
		}
	}
	return out
}

func TestImportsFlowOneWay(t *testing.T) {
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Imports", module+"/...")
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	dec := json.NewDecoder(bufio.NewReader(bytes.NewReader(out)))
	seen := map[string]bool{}
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(p.ImportPath, module+"/")
		may, listed := allowed[name]
		if !listed {
			t.Errorf("package %s is not in the layering table: add it, with what it may import", name)
			continue
		}
		seen[name] = true
		for _, imp := range ours(p.Imports) {
			if !slices.Contains(may, imp) {
				t.Errorf("%s imports %s, which the layering table does not allow", name, imp)
			}
		}
	}
	for name := range allowed {
		if !seen[name] {
			t.Errorf("the layering table lists %s, which go list does not: remove it", name)
		}
	}
}
