package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/zmtpdump/zmtpdump/output"
)

// timeFlag is -t: each -t moves one step along tcpdump's formats (-t none,
// -tt unix, -ttt delta, -tttt date), or --time=NAME picks one by name.
type timeFlag struct{ f *output.TimeFormat }

// String implements pflag.Value; the default format reads as "" so that
// help does not list it.
func (t timeFlag) String() string {
	if t.f == nil || *t.f == output.TimeOfDay {
		return ""
	}
	return t.f.String()
}

// stepTime is what a bare -t (or --time) sets: the next format.
const stepTime = "next"

// Set implements pflag.Value: stepTime steps to the next format.
func (t timeFlag) Set(s string) error {
	if s == stepTime {
		if *t.f < output.TimeDate {
			*t.f++
		}
		return nil
	}
	f, err := output.ParseTimeFormat(s)
	if err != nil {
		return err
	}
	*t.f = f
	return nil
}

func (timeFlag) Type() string { return "format" }

// durationFlag is -G: a Go duration ("90s", "1m30s") or whole seconds
// ("90"), as tcpdump's -G takes.
type durationFlag struct{ d *time.Duration }

func (f durationFlag) String() string {
	if f.d == nil || *f.d == 0 {
		return ""
	}
	return f.d.String()
}

// Set implements pflag.Value.
func (f durationFlag) Set(s string) error {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		*f.d = time.Duration(n) * time.Second
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want seconds or a duration such as 90s or 1m30s")
	}
	*f.d = d
	return nil
}

func (durationFlag) Type() string { return "duration" }

// choiceFlag is a string flag that takes one of a few words.
type choiceFlag struct {
	v       *string
	choices []string
}

func (c choiceFlag) String() string {
	if c.v == nil {
		return ""
	}
	return *c.v
}

// Set implements pflag.Value.
func (c choiceFlag) Set(s string) error {
	for _, w := range c.choices {
		if s == w {
			*c.v = s
			return nil
		}
	}
	return fmt.Errorf("want one of %v", c.choices)
}

func (choiceFlag) Type() string { return "when" }
