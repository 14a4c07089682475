package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestCreateBundle(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		bundle string
		ok     bool
	}{
		{[]string{"--root", "/r", "--log", "/l", "create", "--bundle", "/b", "--pid-file", "/p", "id"}, "/b", true},
		{[]string{"create", "--bundle=/b2", "id"}, "/b2", true},
		{[]string{"run", "-b", "/b3", "id"}, "/b3", true},
		{[]string{"create", "id"}, ".", true},
		{[]string{"--root", "/r", "start", "id"}, "", false},
		{[]string{"delete", "--force", "id"}, "", false},
	} {
		b, ok := createBundle(tc.args)
		if b != tc.bundle || ok != tc.ok {
			t.Errorf("createBundle(%q) = %q, %v; want %q, %v", tc.args, b, ok, tc.bundle, tc.ok)
		}
	}
}

// TestGrant edits a config.json as dockerd writes it: the named
// capabilities join the bounding, effective and permitted sets once each,
// the inheritable set and the rest of the file stay, the variable goes.
func TestGrant(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	in := `{"ociVersion":"1.0.2","process":{"env":["PATH=/bin","OCICAPS_ADD=BPF,cap_perfmon","GOMEMLIMIT=1"],` +
		`"capabilities":{"bounding":["CAP_NET_ADMIN"],"effective":["CAP_NET_ADMIN","CAP_BPF"],"permitted":["CAP_NET_ADMIN"],"inheritable":[]}},"root":{"path":"rootfs"}}`
	if err := os.WriteFile(path, []byte(in), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := grant(path); err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Process struct {
			Env  []string
			Caps map[string][]string `json:"capabilities"`
		}
		Root struct{ Path string }
	}
	raw, _ := os.ReadFile(path)
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	if want := []string{"PATH=/bin", "GOMEMLIMIT=1"}; !slices.Equal(spec.Process.Env, want) {
		t.Errorf("env %q, want %q", spec.Process.Env, want)
	}
	want := []string{"CAP_NET_ADMIN", "CAP_BPF", "CAP_PERFMON"}
	for _, set := range []string{"bounding", "effective", "permitted"} {
		if got := spec.Process.Caps[set]; !slices.Equal(got, want) {
			t.Errorf("%s %q, want %q", set, got, want)
		}
	}
	if got := spec.Process.Caps["inheritable"]; len(got) != 0 {
		t.Errorf("inheritable %q, want none", got)
	}
	if spec.Root.Path != "rootfs" {
		t.Errorf("root lost: %s", raw)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}

	// Without the variable the file is left as it is.
	plain := `{"process":{"env":["PATH=/bin"]}}`
	os.WriteFile(path, []byte(plain), 0o600)
	if err := grant(path); err != nil {
		t.Fatal(err)
	}
	if raw, _ := os.ReadFile(path); string(raw) != plain {
		t.Errorf("a container without OCICAPS_ADD was changed: %s", raw)
	}
}
