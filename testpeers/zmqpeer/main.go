package main

/*
#cgo pkg-config: libzmq
#include <stdlib.h>
#include <zmq.h>
*/
import "C"

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

var socketTypes = map[string]C.int{
	"push":   C.ZMQ_PUSH,
	"pull":   C.ZMQ_PULL,
	"pub":    C.ZMQ_PUB,
	"sub":    C.ZMQ_SUB,
	"xpub":   C.ZMQ_XPUB,
	"xsub":   C.ZMQ_XSUB,
	"req":    C.ZMQ_REQ,
	"rep":    C.ZMQ_REP,
	"dealer": C.ZMQ_DEALER,
	"router": C.ZMQ_ROUTER,
	"pair":   C.ZMQ_PAIR,
}

type config struct {
	typ              string
	bind, connect    string
	mode             string
	count, size      int
	multipart        bool
	mix              []mixShape // -mix, parsed; nil: -size and -multipart
	burst            int
	interval, wait   time.Duration
	linger, timeout  time.Duration
	subscribe        stringList
	unsubscribeAfter bool
	print            bool
	routingID        string
	prefix           string
	hold             time.Duration
	reconnectIvl     time.Duration
	replyDelay       time.Duration
	rcvbuf           int

	plainUser, plainPass string
	plainServer          bool
	zapUser, zapPass     string
	curveServer          bool
	curveSecret          string
	curveServerKey       string
	curveKeygen          bool

	heartbeatIvl, heartbeatTimeout, heartbeatTTL time.Duration

	// Load generation (load.go).
	report      bool
	connections int
	rate        float64
}

func main() {
	var cfg config
	flag.StringVar(&cfg.typ, "type", "", "socket type: push|pull|pub|sub|xpub|xsub|req|rep|dealer|router|pair")
	flag.StringVar(&cfg.bind, "bind", "", "endpoint to bind, e.g. tcp://127.0.0.1:7001")
	flag.StringVar(&cfg.connect, "connect", "", "endpoint to connect to, e.g. tcp://[::1]:7001")
	flag.StringVar(&cfg.mode, "mode", "", "pair only: send or recv (default: send when connecting, recv when binding)")
	flag.IntVar(&cfg.count, "count", 3, "messages to send (sending types) or to receive before exiting (receiving types)")
	flag.IntVar(&cfg.size, "size", 0, "if > 0, each message body is this many 'x' bytes instead of a decimal counter")
	flag.BoolVar(&cfg.multipart, "multipart", false, "send each message as two frames: \"hello\" (MORE), then the body")
	flag.Func("mix", "message shapes cycled over the messages: comma-separated body sizes (0: the counter), \"m\" prefix for multipart, e.g. 0,m0,300,70000", func(v string) error {
		mix, err := parseMix(v)
		cfg.mix = mix
		return err
	})
	flag.IntVar(&cfg.burst, "burst", 1, "send this many messages back to back between -interval pauses")
	flag.DurationVar(&cfg.interval, "interval", 0, "pause between sends")
	flag.DurationVar(&cfg.wait, "wait", 200*time.Millisecond, "pause after bind/connect before the first send")
	flag.DurationVar(&cfg.linger, "linger", time.Second, "ZMQ_LINGER set before closing the socket")
	flag.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "overall time limit for receiving (and sending)")
	flag.Var(&cfg.subscribe, "subscribe", "sub/xsub: topic to subscribe to (repeatable; sub default: everything)")
	flag.BoolVar(&cfg.unsubscribeAfter, "unsubscribe-after", false, "sub/xsub: after receiving, unsubscribe from each topic, sleep 200ms, exit")
	flag.BoolVar(&cfg.print, "print", false, "print each received message, frames as text joined by \"|\"")
	flag.StringVar(&cfg.routingID, "routing-id", "", "ZMQ_ROUTING_ID of the socket")
	flag.StringVar(&cfg.prefix, "prefix", "", "prepend this to every message body (e.g. a PUB topic)")
	flag.DurationVar(&cfg.hold, "hold", 0, "keep the socket open this long after the last send/receive")
	flag.DurationVar(&cfg.reconnectIvl, "reconnect-ivl", 0, "if > 0, ZMQ_RECONNECT_IVL (libzmq default 100ms)")
	flag.DurationVar(&cfg.replyDelay, "reply-delay", 0, "rep/router: sleep this long before each reply")
	flag.IntVar(&cfg.rcvbuf, "rcvbuf", 0, "if > 0, ZMQ_RCVBUF (the kernel's SO_RCVBUF) in bytes")
	flag.StringVar(&cfg.plainUser, "plain-user", "", "PLAIN client: ZMQ_PLAIN_USERNAME")
	flag.StringVar(&cfg.plainPass, "plain-pass", "", "PLAIN client: ZMQ_PLAIN_PASSWORD")
	flag.BoolVar(&cfg.plainServer, "plain-server", false, "PLAIN server (ZMQ_PLAIN_SERVER=1), with a ZAP handler")
	flag.StringVar(&cfg.zapUser, "zap-user", "", "PLAIN server: the user name the ZAP handler accepts")
	flag.StringVar(&cfg.zapPass, "zap-pass", "", "PLAIN server: the password the ZAP handler accepts")
	flag.BoolVar(&cfg.curveServer, "curve-server", false, "CURVE server (ZMQ_CURVE_SERVER=1)")
	flag.StringVar(&cfg.curveSecret, "curve-secret", "", "CURVE server: secret key, Z85 (default: a fresh keypair, public key printed on stderr)")
	flag.StringVar(&cfg.curveServerKey, "curve-serverkey", "", "CURVE client: the server's public key, Z85")
	flag.BoolVar(&cfg.curveKeygen, "curve-keygen", false, "print a new CURVE keypair as \"public secret\" (Z85) and exit")
	flag.DurationVar(&cfg.heartbeatIvl, "heartbeat-ivl", 0, "if > 0, ZMQ_HEARTBEAT_IVL: send a PING this often")
	flag.DurationVar(&cfg.heartbeatTimeout, "heartbeat-timeout", 0, "ZMQ_HEARTBEAT_TIMEOUT (default 3 × -heartbeat-ivl)")
	flag.DurationVar(&cfg.heartbeatTTL, "heartbeat-ttl", 0, "ZMQ_HEARTBEAT_TTL, rounded down to 100ms (default 10 × -heartbeat-ivl)")
	flag.BoolVar(&cfg.report, "report", false, "load mode: print messages/s achieved on exit (stderr)")
	flag.IntVar(&cfg.connections, "connections", 1, "load mode: send over this many sockets, each connected to -connect")
	flag.Float64Var(&cfg.rate, "rate", 0, "load mode: send at most this many messages per second in all (0: as fast as possible)")
	flag.Parse()

	if cfg.curveKeygen {
		public, secret, err := curveKeypair()
		if err != nil {
			fmt.Fprintf(os.Stderr, "zmqpeer: %v\n", err)
			os.Exit(1)
		}
		fmt.Println(public, secret)
		return
	}

	if err := run(&cfg); err != nil {
		fmt.Fprintf(os.Stderr, "zmqpeer: %v\n", err)
		os.Exit(1)
	}
}

func run(cfg *config) error {
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", flag.Args())
	}
	typ, ok := socketTypes[cfg.typ]
	if !ok {
		return fmt.Errorf("-type: unknown socket type %q", cfg.typ)
	}
	if (cfg.bind == "") == (cfg.connect == "") {
		return errors.New("exactly one of -bind and -connect is required")
	}
	if cfg.count < 0 || cfg.size < 0 {
		return errors.New("-count and -size must not be negative")
	}
	if cfg.burst < 1 {
		return errors.New("-burst must be at least 1")
	}
	if cfg.mode != "" && cfg.mode != "send" && cfg.mode != "recv" {
		return fmt.Errorf("-mode: want send or recv, got %q", cfg.mode)
	}
	mechanisms := 0
	for _, on := range []bool{cfg.plainUser != "" || cfg.plainPass != "", cfg.plainServer,
		cfg.curveServer, cfg.curveServerKey != ""} {
		if on {
			mechanisms++
		}
	}
	if mechanisms > 1 {
		return errors.New("choose one of -plain-user/-plain-pass, -plain-server, -curve-server, -curve-serverkey")
	}

	ctx := C.zmq_ctx_new()
	if ctx == nil {
		return lastError("zmq_ctx_new")
	}
	defer C.zmq_ctx_term(ctx)

	if cfg.plainServer {
		// The handler must be bound before the first PLAIN HELLO arrives.
		// It ends when zmq_ctx_term (deferred above) interrupts it.
		zap, err := newZAPHandler(ctx, cfg.zapUser, cfg.zapPass)
		if err != nil {
			return err
		}
		go zap.serve()
	}

	if cfg.loadMode() {
		return runLoad(ctx, cfg, typ)
	}

	s, err := newSocket(ctx, typ)
	if err != nil {
		return err
	}
	// Close with the requested linger so queued messages still go out.
	defer func() {
		s.setInt(C.ZMQ_LINGER, int(cfg.linger/time.Millisecond))
		C.zmq_close(s.ptr)
	}()

	if err := s.configure(cfg); err != nil {
		return err
	}
	if cfg.bind != "" {
		err = s.bind(cfg.bind)
	} else {
		err = s.connect(cfg.connect)
	}
	if err != nil {
		return err
	}

	p := &peer{cfg: cfg, s: s, deadline: time.Now().Add(cfg.timeout), out: bufio.NewWriter(os.Stdout)}
	defer p.out.Flush()

	if err := p.play(); err != nil {
		return err
	}
	time.Sleep(cfg.hold)
	return nil
}
