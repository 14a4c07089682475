package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newGenDocsCommand is the hidden "gen-docs DIR" command: it writes the man
// pages (DIR/man/*.8) and shell completions (DIR/completions/) generated
// from the commands and flags, for make install.
func newGenDocsCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "gen-docs DIR",
		Short:  "Write man pages and shell completions into DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return genDocs(cmd.Root(), args[0])
		},
	}
}

func genDocs(root *cobra.Command, dir string) error {
	manDir, compDir := filepath.Join(dir, "man"), filepath.Join(dir, "completions")
	for _, d := range []string{manDir, compDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("gen-docs: %w", err)
		}
	}
	root.InitDefaultCompletionCmd()
	root.DisableAutoGenTag = true
	header := &doc.GenManHeader{Title: "ZMTPDUMP", Section: "8", Source: "zmtpdump " + version, Manual: "System Manager's Manual"}
	if err := doc.GenManTree(root, header, manDir); err != nil {
		return fmt.Errorf("gen-docs: man pages: %w", err)
	}
	for _, c := range []struct {
		name string
		gen  func(string) error
	}{
		{"zmtpdump.bash", func(f string) error { return root.GenBashCompletionFileV2(f, true) }},
		{"_zmtpdump", root.GenZshCompletionFile},
		{"zmtpdump.fish", func(f string) error { return root.GenFishCompletionFile(f, true) }},
	} {
		if err := c.gen(filepath.Join(compDir, c.name)); err != nil {
			return fmt.Errorf("gen-docs: %s: %w", c.name, err)
		}
	}
	return nil
}
