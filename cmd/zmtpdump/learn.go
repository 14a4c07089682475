package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

// Learning mode: --explain notes under events, --ladder diagrams at the end
// of each connection.

// explainFlag is --explain[=once|all]: off by default, "once" when given
// bare.
type explainFlag struct{ v *string }

func (f explainFlag) String() string {
	if f.v == nil {
		return ""
	}
	return *f.v
}

// Set implements pflag.Value.
func (f explainFlag) Set(s string) error {
	switch s {
	case "once", "all", "never":
		*f.v = s
		return nil
	}
	return fmt.Errorf("want once, all or never")
}

func (explainFlag) Type() string { return "when" }

// addLearnFlags adds --explain and --ladder.
func addLearnFlags(cmd *cobra.Command, cfg *config) {
	f := cmd.Flags()
	f.Var(explainFlag{&cfg.explain}, "explain", "follow each event with a plain-English note of what it means, its stage and its RFC section: once per connection and note (--explain), every time (--explain=all)")
	f.Lookup("explain").NoOptDefVal = "once"
	f.BoolVar(&cfg.ladder, "ladder", false, "draw each connection, when it ends, as a sequence diagram of its greeting pieces, commands and messages")
	must(cmd.RegisterFlagCompletionFunc("explain", cobra.FixedCompletions([]string{"once", "all", "never"}, cobra.ShellCompDirectiveNoFileComp)))
}

// finishLearn validates the learning flags.
func (c *config) finishLearn() error {
	explain := c.explain != "" && c.explain != "never"
	switch {
	case (explain || c.ladder) && c.summary:
		return errors.New("--explain and --ladder print under the events: -q prints none")
	case (explain || c.ladder) && c.writeFile == "-":
		return errors.New("--explain and --ladder print under the events: -w - prints none")
	case c.ladder && c.json:
		return errors.New("--ladder draws text: with --json, use --explain's \"notes\" and the events")
	}
	return nil
}
