// Command ocicaps is an OCI runtime for e2e/docker_test.go's own dockerd: it
// runs runc, after granting a container the capabilities that Debian 12's
// dockerd (20.10) refuses by name although the kernel and runc know them
// (CAP_BPF, CAP_PERFMON, CAP_CHECKPOINT_RESTORE: "unknown capability").
// Kubernetes' runtimes (containerd, CRI-O) grant them, so without this the
// test could not run the image with the DaemonSet's securityContext.
//
// A container asks for them in its environment: OCICAPS_ADD=BPF,PERFMON.
// On "create" (and "run"), ocicaps reads the bundle's config.json, adds
// each named capability to the process's bounding, effective and permitted
// sets (as dockerd does for --cap-add), removes OCICAPS_ADD from the
// environment and writes the file back; then, for every command, it
// executes runc with its arguments unchanged. A container without the
// variable is left as dockerd made it.
//
// Register it with dockerd --add-runtime ocicaps=PATH and run the
// container with --runtime ocicaps. OCICAPS_RUNC names runc when it is not
// on dockerd's PATH.
//
// Imports: nothing of ours.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// Env is the container's variable that names the capabilities to add.
const Env = "OCICAPS_ADD"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "ocicaps:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if bundle, ok := createBundle(args); ok {
		if err := grant(filepath.Join(bundle, "config.json")); err != nil {
			return err
		}
	}
	runc := os.Getenv("OCICAPS_RUNC")
	if runc == "" {
		var err error
		if runc, err = exec.LookPath("runc"); err != nil {
			return fmt.Errorf("find runc: %w", err)
		}
	}
	return syscall.Exec(runc, append([]string{runc}, args...), os.Environ())
}

// createBundle returns the --bundle (-b) directory of a "create" or "run"
// command line ("." when not given), and whether args is one.
func createBundle(args []string) (string, bool) {
	cmd := -1
	for i, a := range args {
		if a == "create" || a == "run" {
			cmd = i
			break
		}
	}
	if cmd < 0 {
		return "", false
	}
	bundle := "."
	rest := args[cmd+1:]
	for i, a := range rest {
		switch {
		case (a == "--bundle" || a == "-b") && i+1 < len(rest):
			bundle = rest[i+1]
		case strings.HasPrefix(a, "--bundle="):
			bundle = strings.TrimPrefix(a, "--bundle=")
		}
	}
	return bundle, true
}

// grant adds the capabilities the container's OCICAPS_ADD names to the
// config.json at path, and removes the variable.
func grant(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read bundle: %w", err)
	}
	var spec map[string]any
	if err := json.Unmarshal(raw, &spec); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	proc, _ := spec["process"].(map[string]any)
	if proc == nil {
		return nil
	}
	env, _ := proc["env"].([]any)
	var names []string
	kept := env[:0:0]
	for _, e := range env {
		s, _ := e.(string)
		if v, ok := strings.CutPrefix(s, Env+"="); ok {
			names = append(names, strings.Split(v, ",")...)
			continue
		}
		kept = append(kept, e)
	}
	if names == nil {
		return nil
	}
	proc["env"] = kept
	caps, _ := proc["capabilities"].(map[string]any)
	if caps == nil {
		caps = map[string]any{}
		proc["capabilities"] = caps
	}
	for _, set := range []string{"bounding", "effective", "permitted"} {
		have, _ := caps[set].([]any)
		for _, n := range names {
			n = strings.ToUpper(strings.TrimSpace(n))
			if n == "" {
				continue
			}
			if !strings.HasPrefix(n, "CAP_") {
				n = "CAP_" + n
			}
			if !slices.Contains(have, any(n)) {
				have = append(have, n)
			}
		}
		caps[set] = have
	}
	out, err := json.Marshal(spec)
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("stat bundle: %w", err)
	}
	if err := os.WriteFile(path, out, fi.Mode().Perm()); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	return nil
}
