package main

import (
	"fmt"
	"path/filepath"
	"strings"
)

// ipcPaths checks the --ipc paths and returns them absolute (a relative
// one is taken from the directory zmtpdump runs in, as a peer's
// ipc://x.ipc is from its own; an absolute one as given): a valid glob, and not an abstract socket
// name, which no path names (ZeroMQ's ipc://@name).
func ipcPaths(paths []string) ([]string, error) {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		if strings.HasPrefix(p, "@") {
			return nil, fmt.Errorf("--ipc %q: abstract Unix sockets (ipc://@name) are not supported: they have no path to match", p)
		}
		if _, err := filepath.Match(p, ""); err != nil {
			return nil, fmt.Errorf("--ipc %q: %w", p, err)
		}
		if filepath.IsAbs(p) {
			// As given: cleaning would change the glob (/run/*/../x.ipc
			// is not /run/x.ipc).
			out = append(out, p)
			continue
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("--ipc %q: %w", p, err)
		}
		out = append(out, abs)
	}
	return out, nil
}
