package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/zmtpdump/zmtpdump/capture"
	"github.com/zmtpdump/zmtpdump/flows"
	"github.com/zmtpdump/zmtpdump/learn"
	"github.com/zmtpdump/zmtpdump/output"
	"github.com/zmtpdump/zmtpdump/zmtp"
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

// learning is what a session keeps for --explain and --ladder; nil parts
// are off.
type learning struct {
	explain *learn.Explainer
	ladder  *learn.Ladder
}

// newLearning returns the learning state of a new connection, or nil when
// neither --explain nor --ladder is on.
func (c *config) newLearning(conn *flows.Conn) *learning {
	var l learning
	if c.explain == "once" || c.explain == "all" {
		l.explain = learn.NewExplainer(c.explain == "all")
	}
	if c.ladder {
		l.ladder = learn.NewLadder(conn.Client, conn.Server, 0)
	}
	if l.explain == nil && l.ladder == nil {
		return nil
	}
	return &l
}

// data records a segment of direction d (greeting pieces).
func (l *learning) data(d flows.Dir, n int, seg *capture.Segment) {
	if l == nil {
		return
	}
	if l.explain != nil {
		l.explain.Data(from(d), n)
	}
	if l.ladder != nil {
		l.ladder.Data(from(d), seg.Time, n)
	}
}

// skip records n bytes of direction d not captured, right after the data
// of the same segment: not a loss, and no segment of their own, but they
// move the offsets on.
func (l *learning) skip(d flows.Dir, n uint64) {
	if l == nil {
		return
	}
	if l.explain != nil {
		l.explain.Skip(from(d), n)
	}
	if l.ladder != nil {
		l.ladder.Skip(from(d), n)
	}
}

// event records ev sent in direction d at t and returns its notes.
func (l *learning) event(d flows.Dir, t time.Time, ev zmtp.Event) []output.Note {
	if l == nil {
		return nil
	}
	if l.ladder != nil {
		l.ladder.Event(from(d), t, ev)
	}
	if l.explain != nil {
		return l.explain.Notes(from(d), ev)
	}
	return nil
}

// gap records n bytes lost in direction d at t and returns its notes.
func (l *learning) gap(d flows.Dir, t time.Time, n uint64) []output.Note {
	if l == nil {
		return nil
	}
	if l.ladder != nil {
		l.ladder.Gap(from(d), t, n)
	}
	if l.explain != nil {
		return l.explain.Gap(from(d), n)
	}
	return nil
}

// drawn returns the ladder to draw at the end of the connection, or nil.
func (l *learning) drawn() *learn.Ladder {
	if l == nil {
		return nil
	}
	return l.ladder
}
