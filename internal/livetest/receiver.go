package livetest

import (
	"bufio"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Message is one message a Receiver's peer printed, and when it arrived.
type Message struct {
	Body string
	At   time.Time // in the caller's clock
}

// Receiver is a receiving peer (zmqpeer or gozmq) started with -print: it
// writes each message it receives as one line on stdout, which the
// Receiver records with the time it arrived. A message reached the
// application no earlier than it was sent, so "arrived at or after T"
// includes every message sent at or after T.
type Receiver struct {
	// Cmd is the started command.
	Cmd *exec.Cmd
	// Stderr holds the command's standard error, unless the caller set
	// Cmd.Stderr before StartReceiver (Stderr is then nil).
	Stderr *Buffer

	mu  sync.Mutex
	got []Message

	exited chan struct{} // closed once stdout is read to its end and the command has exited
	err    error
}

// StartReceiver starts cmd, a receiving peer with -print.
func StartReceiver(cmd *exec.Cmd) (*Receiver, error) {
	r := &Receiver{Cmd: cmd, exited: make(chan struct{})}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("receiver: %w", err)
	}
	if cmd.Stderr == nil {
		r.Stderr = &Buffer{}
		cmd.Stderr = r.Stderr
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the receiver: %w", err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			now := time.Now()
			r.mu.Lock()
			r.got = append(r.got, Message{sc.Text(), now})
			r.mu.Unlock()
		}
		r.err = cmd.Wait()
		close(r.exited)
	}()
	return r, nil
}

// errors returns the receiver's stderr, for messages.
func (r *Receiver) errors() string {
	if r.Stderr == nil {
		return ""
	}
	return r.Stderr.String()
}

// Count returns how many messages arrived so far.
func (r *Receiver) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// Messages returns every message received so far, in order.
func (r *Receiver) Messages() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Message(nil), r.got...)
}

// Between returns the messages that arrived in [from, to).
func (r *Receiver) Between(from, to time.Time) []Message {
	var out []Message
	for _, m := range r.Messages() {
		if !m.At.Before(from) && m.At.Before(to) {
			out = append(out, m)
		}
	}
	return out
}

// ReceivedAt returns when the message with this body arrived, or false.
func (r *Receiver) ReceivedAt(body string) (time.Time, bool) {
	for _, m := range r.Messages() {
		if m.Body == body {
			return m.At, true
		}
	}
	return time.Time{}, false
}

// WaitCount waits up to limit until n messages arrived; it fails when the
// receiver exits or the time is up first.
func (r *Receiver) WaitCount(n int, limit time.Duration) error {
	deadline := time.After(limit)
	for {
		got := r.Count()
		if got >= n {
			return nil
		}
		select {
		case <-r.exited:
			if got = r.Count(); got >= n {
				return nil
			}
			return fmt.Errorf("receiver %s exited (%w) after %d messages, want %d\n%s", strings.Join(r.Cmd.Args, " "), exitError(r.err), got, n, r.errors())
		case <-deadline:
			return fmt.Errorf("receiver %s got %d messages within %v, want %d\n%s", strings.Join(r.Cmd.Args, " "), got, limit, n, r.errors())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Wait waits up to limit for the receiver to exit, and fails unless it
// exited cleanly in time (it is then left running).
func (r *Receiver) Wait(limit time.Duration) error {
	select {
	case <-r.exited:
		if r.err != nil {
			return fmt.Errorf("receiver %s: %w\n%s", strings.Join(r.Cmd.Args, " "), r.err, r.errors())
		}
		return nil
	case <-time.After(limit):
		return fmt.Errorf("receiver %s did not finish within %v (%d messages)\n%s", strings.Join(r.Cmd.Args, " "), limit, r.Count(), r.errors())
	}
}

// Kill ends the receiver if it still runs, and waits for it.
func (r *Receiver) Kill() {
	select {
	case <-r.exited:
	default:
		r.Cmd.Process.Kill()
		<-r.exited
	}
}
