package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/zmtpdump/zmtpdump/diagnose"
)

// addDiagnoseFlags adds the flags of diagnosis: its thresholds, and
// --no-problems to turn it off.
func addDiagnoseFlags(cmd *cobra.Command, cfg *config) {
	f := cmd.Flags()
	d := diagnose.DefaultConfig()
	cfg.diagnose = d
	f.IntVar(&cfg.diagnose.RefusedAttempts, "refused-attempts", d.RefusedAttempts, "connection attempts answered by RST, from one client to one server port, that make a connect-refused problem (a reconnect loop)")
	f.DurationVar(&cfg.diagnose.RefusedQuiet, "refused-quiet", d.RefusedQuiet, "a burst of refused attempts ends after this long without one: its problem is printed then")
	f.DurationVar(&cfg.diagnose.StallAfter, "stall-after", d.StallAfter, "a zero window shorter than this is no stalled problem")
	f.BoolVar(&cfg.noProblems, "no-problems", false, "turn diagnosis off: no problem events, health figures or summary of problems")
}

// finishDiagnose validates the diagnosis flags.
func (c *config) finishDiagnose() error {
	switch {
	case c.diagnose.RefusedAttempts < 1:
		return fmt.Errorf("--refused-attempts %d: want 1 or more", c.diagnose.RefusedAttempts)
	case c.diagnose.RefusedQuiet <= 0:
		return errors.New("--refused-quiet: want a positive duration")
	case c.diagnose.StallAfter < 0:
		return errors.New("--stall-after: want a duration of 0 or more")
	}
	return nil
}
