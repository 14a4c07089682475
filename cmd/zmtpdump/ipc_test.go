package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestIPCFlags: --ipc alone is a live capture without TCP, repeatable and
// combinable with -i; a relative path is made absolute; -r, abstract
// socket names and bad globs are refused.
func TestIPCFlags(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args     []string
		ipc, ifs []string
		wantErr  string
	}{
		{args: []string{"--ipc", "/run/app/*.ipc"}, ipc: []string{"/run/app/*.ipc"}},
		{args: []string{"--ipc", "/a.ipc", "--ipc", "/b.ipc", "-i", "lo", "--port", "7001"}, ipc: []string{"/a.ipc", "/b.ipc"}, ifs: []string{"lo"}},
		{args: []string{"--ipc", "x.ipc"}, ipc: []string{filepath.Join(wd, "x.ipc")}},
		{args: []string{"--ipc", "/run/*/../x.ipc"}, ipc: []string{"/run/*/../x.ipc"}}, // a glob, not cleaned
		{args: []string{"--ipc", "/a.ipc", "-r", "x.pcap"}, wantErr: "-r and --ipc exclude each other"},
		{args: []string{"--ipc", "@name"}, wantErr: "abstract Unix sockets"},
		{args: []string{"--ipc", "/run/[x.ipc"}, wantErr: "syntax error in pattern"},
		{args: []string{"--ipc", "/a.ipc", "--port", "7001"}, wantErr: "--port and filter expressions select TCP"},
		{args: []string{"--ipc", "/a.ipc", "port", "7001"}, wantErr: "--port and filter expressions select TCP"},
		{args: []string{"--ipc", ""}, wantErr: `--ipc "": name a socket's path`},
	} {
		c, err := parse(tt.args...)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v: error %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		sc := c.session()
		if !slices.Equal(sc.IPC, tt.ipc) || !slices.Equal(sc.Loader.Interfaces, tt.ifs) || sc.ReadFile != "" {
			t.Errorf("%v: ipc %q interfaces %q, want %q %q", tt.args, sc.IPC, sc.Loader.Interfaces, tt.ipc, tt.ifs)
		}
	}
}
