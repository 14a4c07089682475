package kernel

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

func TestExplain(t *testing.T) {
	if err := Explain(nil); err != nil {
		t.Errorf("Explain(nil) = %v", err)
	}
	if err := Explain(fmt.Errorf("probe: %w", ebpf.ErrNotSupported)); !errors.Is(err, ebpf.ErrNotSupported) || !strings.HasPrefix(err.Error(), "not supported by this kernel") {
		t.Errorf("not supported: %v", err)
	}
	if err := Explain(unix.EPERM); !errors.Is(err, ErrPermission) {
		t.Errorf("EPERM: %v, want ErrPermission", err)
	}
	other := errors.New("boom")
	if err := Explain(other); err != other {
		t.Errorf("other errors pass through: %v", err)
	}
}

func TestCaps(t *testing.T) {
	caps := EffectiveCaps()
	if len(caps) != len(capNumbers) {
		t.Fatalf("%d capabilities, want %d", len(caps), len(capNumbers))
	}
	if os.Geteuid() == 0 {
		if m := MissingCaps("CAP_BPF", "CAP_PERFMON"); m != "" {
			t.Errorf("root misses %s", m)
		}
	}
}

func TestMonotonicBase(t *testing.T) {
	base, err := MonotonicBase()
	if err != nil {
		t.Fatal(err)
	}
	if base.After(time.Now()) {
		t.Errorf("CLOCK_MONOTONIC was zero in the future: %v", base)
	}
}

func TestActiveMode(t *testing.T) {
	for in, want := range map[string]string{
		"none [integrity] confidentiality\n": "integrity",
		"[none] integrity confidentiality\n": "none",
		"none integrity confidentiality\n":   "",
		"]broken[":                           "",
	} {
		if got := activeMode(in); got != want {
			t.Errorf("activeMode(%q) = %q, want %q", in, got, want)
		}
	}
}
