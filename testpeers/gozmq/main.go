// Command gozmq is a ZeroMQ peer built on github.com/go-zeromq/zmq4, a pure-Go
// implementation of ZMTP 3.0, used to record captures of a second ZMTP stack
// for zmtpdump's tests (see testdata/record.sh). It mirrors a subset of
// testpeers/zmqpeer's flags:
//
//	push, pub   send -count messages
//	pull, sub   receive -count messages, then exit
//	req         for each of -count messages: send it, receive the reply
//	rep         for each of -count messages: receive it, echo it back
//
// A message body is -prefix followed by the decimal counter "1", "2", ...;
// -mix (as zmqpeer's) cycles message shapes: a body size (the counter
// padded with 'x' to it; 0: the counter alone), "m" before it for two
// frames, "hello" then the body.
// With -print, every received message is written to stdout, its frames as
// text joined by "|". The exit status is 0 on success and 1 on any failure,
// including running past -timeout.
//
// zmq4 speaks ZMTP 3.0 only (NULL mechanism here): its SUB subscribes by
// sending a message 0x01+topic and unsubscribes with 0x00+topic.
//
// The zmtpdump binary never imports this package.
//
// Examples:
//
//	gozmq -type pull -bind tcp://127.0.0.1:7001 -count 3 -print
//	gozmq -type sub -connect tcp://127.0.0.1:7002 -subscribe a -count 2 -unsubscribe-after
//
// Imports: nothing of ours (it speaks ZMTP through a pure Go library).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-zeromq/zmq4"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

var socketTypes = map[string]func(context.Context, ...zmq4.Option) zmq4.Socket{
	"push": zmq4.NewPush,
	"pull": zmq4.NewPull,
	"pub":  zmq4.NewPub,
	"sub":  zmq4.NewSub,
	"req":  zmq4.NewReq,
	"rep":  zmq4.NewRep,
}

type config struct {
	typ              string
	bind, connect    string
	count            int
	prefix           string
	interval, wait   time.Duration
	hold, timeout    time.Duration
	subscribe        stringList
	unsubscribeAfter bool
	print            bool
	mix              []mixShape // -mix, parsed
}

// mixShape is one entry of -mix: a body size (0: the decimal counter) and
// whether the message goes as two frames.
type mixShape struct {
	size      int
	multipart bool
}

// parseMix parses the -mix list.
func parseMix(v string) ([]mixShape, error) {
	var mix []mixShape
	for _, item := range strings.Split(v, ",") {
		var sh mixShape
		if rest, ok := strings.CutPrefix(item, "m"); ok {
			sh.multipart, item = true, rest
		}
		n, err := strconv.Atoi(item)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("-mix: want a size >= 0, optionally after \"m\", got %q", item)
		}
		sh.size = n
		mix = append(mix, sh)
	}
	return mix, nil
}

func main() {
	var cfg config
	flag.StringVar(&cfg.typ, "type", "", "socket type: push|pull|pub|sub|req|rep")
	flag.StringVar(&cfg.bind, "bind", "", "endpoint to listen on, e.g. tcp://127.0.0.1:7001")
	flag.StringVar(&cfg.connect, "connect", "", "endpoint to dial, e.g. tcp://127.0.0.1:7001")
	flag.IntVar(&cfg.count, "count", 3, "messages to send (sending types) or to receive before exiting (receiving types)")
	flag.StringVar(&cfg.prefix, "prefix", "", "prepend this to every message body (e.g. a PUB topic)")
	flag.DurationVar(&cfg.interval, "interval", 0, "pause between sends")
	flag.DurationVar(&cfg.wait, "wait", 200*time.Millisecond, "pause after bind/connect before the first send")
	flag.DurationVar(&cfg.hold, "hold", 0, "keep the socket open this long after the last send/receive")
	flag.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "overall time limit")
	flag.Var(&cfg.subscribe, "subscribe", "sub: topic to subscribe to (repeatable; default: everything)")
	flag.BoolVar(&cfg.unsubscribeAfter, "unsubscribe-after", false, "sub: after receiving, unsubscribe from each topic, sleep 200ms, exit")
	flag.BoolVar(&cfg.print, "print", false, "print each received message, frames as text joined by \"|\"")
	flag.Func("mix", "message shapes cycled over the messages: comma-separated body sizes (0: the counter), \"m\" prefix for multipart, e.g. 0,m0,300,70000", func(v string) error {
		mix, err := parseMix(v)
		cfg.mix = mix
		return err
	})
	flag.Parse()

	if err := run(&cfg); err != nil {
		fmt.Fprintf(os.Stderr, "gozmq: %v\n", err)
		os.Exit(1)
	}
}

func run(cfg *config) error {
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", flag.Args())
	}
	newSocket, ok := socketTypes[cfg.typ]
	if !ok {
		return fmt.Errorf("-type: unknown socket type %q", cfg.typ)
	}
	if (cfg.bind == "") == (cfg.connect == "") {
		return errors.New("exactly one of -bind and -connect is required")
	}
	if cfg.count < 0 {
		return errors.New("-count must not be negative")
	}

	// The context bounds every blocking call: Recv returns once it expires.
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
	defer cancel()
	s := newSocket(ctx, zmq4.WithTimeout(cfg.timeout), zmq4.WithDialerRetry(50*time.Millisecond))
	defer s.Close()

	if cfg.typ == "sub" {
		if len(cfg.subscribe) == 0 {
			cfg.subscribe = stringList{""}
		}
		// Set before Dial, zmq4 sends the subscriptions when the connection opens.
		for _, t := range cfg.subscribe {
			if err := s.SetOption(zmq4.OptionSubscribe, t); err != nil {
				return fmt.Errorf("subscribe %q: %w", t, err)
			}
		}
	}
	var err error
	if cfg.bind != "" {
		err = s.Listen(cfg.bind)
	} else {
		err = s.Dial(cfg.connect)
	}
	if err != nil {
		return err
	}

	p := &peer{cfg: cfg, s: s}
	if err := p.play(); err != nil {
		return err
	}
	time.Sleep(cfg.hold)
	return nil
}

// peer runs the send/receive pattern of one socket.
type peer struct {
	cfg     *config
	s       zmq4.Socket
	started bool
}

func (p *peer) play() error {
	switch p.cfg.typ {
	case "push", "pub":
		for i := 1; i <= p.cfg.count; i++ {
			p.pace()
			if err := p.s.Send(p.message(i)); err != nil {
				return fmt.Errorf("message %d: %w", i, err)
			}
		}
	case "pull", "sub":
		for i := 1; i <= p.cfg.count; i++ {
			msg, err := p.s.Recv()
			if err != nil {
				return fmt.Errorf("message %d: %w", i, err)
			}
			p.show(msg)
		}
		if p.cfg.typ == "sub" && p.cfg.unsubscribeAfter {
			for _, t := range p.cfg.subscribe {
				if err := p.s.SetOption(zmq4.OptionUnsubscribe, t); err != nil {
					return fmt.Errorf("unsubscribe %q: %w", t, err)
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
	case "req":
		for i := 1; i <= p.cfg.count; i++ {
			p.pace()
			if err := p.s.Send(p.message(i)); err != nil {
				return fmt.Errorf("request %d: %w", i, err)
			}
			reply, err := p.s.Recv()
			if err != nil {
				return fmt.Errorf("reply %d: %w", i, err)
			}
			p.show(reply)
		}
	case "rep":
		for i := 1; i <= p.cfg.count; i++ {
			msg, err := p.s.Recv()
			if err != nil {
				return fmt.Errorf("request %d: %w", i, err)
			}
			p.show(msg)
			if err := p.s.Send(msg); err != nil {
				return fmt.Errorf("reply %d: %w", i, err)
			}
		}
	}
	return nil
}

// message returns the i'th (1-based) message.
func (p *peer) message(i int) zmq4.Msg {
	body := []byte(p.cfg.prefix + fmt.Sprint(i))
	if len(p.cfg.mix) == 0 {
		return zmq4.NewMsg(body)
	}
	sh := p.cfg.mix[(i-1)%len(p.cfg.mix)]
	if sh.size > len(body) {
		body = append(body, strings.Repeat("x", sh.size-len(body))...)
	}
	if sh.multipart {
		return zmq4.NewMsgFrom([]byte("hello"), body)
	}
	return zmq4.NewMsg(body)
}

// pace sleeps -wait before the first send and -interval before later ones.
func (p *peer) pace() {
	if !p.started {
		p.started = true
		time.Sleep(p.cfg.wait)
		return
	}
	time.Sleep(p.cfg.interval)
}

func (p *peer) show(msg zmq4.Msg) {
	if !p.cfg.print {
		return
	}
	frames := make([]string, len(msg.Frames))
	for i, f := range msg.Frames {
		frames[i] = string(f)
	}
	fmt.Println(strings.Join(frames, "|"))
}
