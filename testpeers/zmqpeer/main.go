// Command zmqpeer is a small libzmq-based ZeroMQ peer used to generate real
// ZMTP traffic for zmtpdump's tests and captures (see testdata/record.sh).
//
// It is built separately and links against the system libzmq through cgo:
//
//	go build -o bin/zmqpeer ./testpeers/zmqpeer
//
// The zmtpdump binary never imports this package.
//
// One process is one socket. It either binds or connects, then plays the
// role that goes with its socket type:
//
//	push, pub, xpub   send -count messages
//	pull, sub, xsub   receive -count messages, then exit
//	req, dealer       for each of -count messages: send it, receive the reply
//	rep               for each of -count messages: receive it, echo it back
//	router            for each of -count messages: receive it, echo it back
//	                  to the sender (the routing id frame is kept)
//	pair              sends when it connects, receives when it binds
//	                  (override with -mode send|recv)
//
// A message body is the decimal counter "1", "2", "3", ... or, with -size N,
// N bytes of 'x'. With -multipart every message is sent as two frames: "hello"
// (with MORE) followed by the body.
//
// With -mix SPEC the messages take the shapes of SPEC in turn, one per
// message, cycled: SPEC is a comma-separated list of body sizes, 0 for the
// decimal counter, N > 0 for N bytes (the counter, then 'x' up to N), each
// with an optional "m" prefix to send that message as two frames like
// -multipart ("0,0,m0,300,m1000,70000"). With -burst N the sender pauses
// -interval only before every N'th message, sending the ones between back
// to back (default 1: a pause before each).
//
// With -prefix P, every body starts with P (a PUB's topic, say). With -hold D
// the socket stays open (idle) for D after its last send or receive.
//
// With -print, every message the application receives is written to stdout,
// one per line, its frames as text joined by "|" (a ROUTER leaves out the
// routing id frame). Errors go to stderr; the exit status is 0 on success and
// 1 on any failure, including a receive that runs past -timeout.
//
// Security mechanisms (libzmq's default is NULL):
//
//	-plain-user U -plain-pass P   PLAIN client (ZMQ_PLAIN_USERNAME/PASSWORD)
//	-plain-server                 PLAIN server (ZMQ_PLAIN_SERVER); it also runs
//	                              a ZAP handler (RFC 27) on the same context that
//	                              accepts exactly -zap-user/-zap-pass and answers
//	                              400 to anything else (libzmq drops every PLAIN
//	                              connection when no ZAP handler is bound)
//	-curve-server                 CURVE server with secret key -curve-secret
//	                              (Z85); without it, a fresh keypair is made and
//	                              its public key printed on stderr
//	-curve-serverkey K            CURVE client of the server whose public key is
//	                              K (Z85); the client's own keypair is made fresh
//	-curve-keygen                 print a new keypair as "public secret" (Z85)
//	                              and exit
//
// Load generation (for bench/; see load.go): with -report, -connections N or
// -rate R the peer sends or receives -count messages as fast as libzmq goes
// (or at R messages per second in all), every body -size bytes of 'x',
// round-robin over N sockets that each -connect to the endpoint, and prints
// on exit one line on stderr:
//
//	zmqpeer: report: received 2000000 messages, 128000000 bytes in 0.91 s: 2192130 msgs/s, 133.8 MiB/s
//
// A receiver's time runs from its first message to its last (the
// application's throughput); a sender's from its first send to the last send
// returning (libzmq queues, so it can run ahead). Give a sender of large
// messages a long -linger: whatever is queued when it closes must still go.
//
// Heartbeats (ZMTP 3.1 PING/PONG): -heartbeat-ivl D sets ZMQ_HEARTBEAT_IVL;
// -heartbeat-timeout (default 3×D) and -heartbeat-ttl (default 10×D, sent in
// each PING in deciseconds) go with it.
//
// Examples:
//
//	zmqpeer -type pull -bind tcp://127.0.0.1:7001 -count 3 -print
//	zmqpeer -type push -connect tcp://127.0.0.1:7001 -count 3 -interval 100ms
//	zmqpeer -type sub -connect tcp://[::1]:7002 -subscribe a -unsubscribe-after
//	zmqpeer -type pull -bind tcp://127.0.0.1:7003 -plain-server -zap-user u -zap-pass p
//	zmqpeer -type push -connect tcp://127.0.0.1:7003 -plain-user u -plain-pass p
//	zmqpeer -type pull -bind tcp://127.0.0.1:7004 -count 2000000 -report
//	zmqpeer -type push -connect tcp://127.0.0.1:7004 -count 2000000 -size 64 -connections 100 -linger 60s -report
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
	"runtime"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// zmqError is an error reported by libzmq, carrying its errno.
type zmqError struct {
	op    string
	errno int
}

func (e *zmqError) Error() string {
	return fmt.Sprintf("%s: %s", e.op, C.GoString(C.zmq_strerror(C.int(e.errno))))
}

// lastError wraps libzmq's current errno for the failed operation op.
// init keeps the main goroutine on one OS thread: zmq_errno reads the
// calling thread's errno, and a goroutine moved to another thread between a
// failed call and zmq_errno would read someone else's ("Success", or a
// stale EAGAIN for an EINTR).
func init() { runtime.LockOSThread() }

func lastError(op string) error {
	return &zmqError{op: op, errno: int(C.zmq_errno())}
}

func isErrno(err error, errno C.int) bool {
	var ze *zmqError
	return errors.As(err, &ze) && ze.errno == int(errno)
}

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

// play runs the send/receive pattern that goes with the socket type.
func (p *peer) play() error {
	cfg := p.cfg
	switch cfg.typ {
	case "push", "pub", "xpub":
		return p.sendAll()
	case "pull", "sub", "xsub":
		return p.receiveAll()
	case "req", "dealer":
		return p.requestAll()
	case "rep", "router":
		return p.echoAll()
	case "pair":
		mode := cfg.mode
		if mode == "" {
			mode = "recv"
			if cfg.connect != "" {
				mode = "send"
			}
		}
		if mode == "send" {
			return p.sendAll()
		}
		return p.receiveAll()
	}
	return nil
}

// socket is a libzmq socket handle.
type socket struct {
	ptr unsafe.Pointer
	typ C.int
}

func newSocket(ctx unsafe.Pointer, typ C.int) (*socket, error) {
	ptr := C.zmq_socket(ctx, typ)
	if ptr == nil {
		return nil, lastError("zmq_socket")
	}
	return &socket{ptr: ptr, typ: typ}, nil
}

func (s *socket) setInt(opt C.int, v int) error {
	cv := C.int(v)
	if C.zmq_setsockopt(s.ptr, opt, unsafe.Pointer(&cv), C.size_t(unsafe.Sizeof(cv))) != 0 {
		return lastError(fmt.Sprintf("zmq_setsockopt(%d)", int(opt)))
	}
	return nil
}

func (s *socket) setBytes(opt C.int, v string) error {
	var p unsafe.Pointer
	if len(v) > 0 {
		cs := C.CString(v)
		defer C.free(unsafe.Pointer(cs))
		p = unsafe.Pointer(cs)
	}
	if C.zmq_setsockopt(s.ptr, opt, p, C.size_t(len(v))) != 0 {
		return lastError(fmt.Sprintf("zmq_setsockopt(%d)", int(opt)))
	}
	return nil
}

// configure sets the options that must be in place before bind/connect.
func (s *socket) configure(cfg *config) error {
	if err := s.setInt(C.ZMQ_IPV6, 1); err != nil {
		return err
	}
	if cfg.routingID != "" {
		if err := s.setBytes(C.ZMQ_ROUTING_ID, cfg.routingID); err != nil {
			return err
		}
	}
	if cfg.reconnectIvl > 0 {
		if err := s.setInt(C.ZMQ_RECONNECT_IVL, int(cfg.reconnectIvl/time.Millisecond)); err != nil {
			return err
		}
	}
	if err := s.configureSecurity(cfg); err != nil {
		return err
	}
	if err := s.configureHeartbeat(cfg); err != nil {
		return err
	}
	if s.typ == C.ZMQ_SUB {
		topics := cfg.subscribe
		if len(topics) == 0 {
			topics = stringList{""}
			cfg.subscribe = topics
		}
		for _, t := range topics {
			if err := s.setBytes(C.ZMQ_SUBSCRIBE, t); err != nil {
				return err
			}
		}
	}
	return nil
}

// configureSecurity selects the PLAIN or CURVE mechanism, if asked to.
func (s *socket) configureSecurity(cfg *config) error {
	switch {
	case cfg.plainServer:
		return s.setInt(C.ZMQ_PLAIN_SERVER, 1)
	case cfg.plainUser != "" || cfg.plainPass != "":
		if err := s.setBytes(C.ZMQ_PLAIN_USERNAME, cfg.plainUser); err != nil {
			return err
		}
		return s.setBytes(C.ZMQ_PLAIN_PASSWORD, cfg.plainPass)
	case cfg.curveServer:
		secret := cfg.curveSecret
		if secret == "" {
			var public string
			var err error
			public, secret, err = curveKeypair()
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "zmqpeer: CURVE server public key: %s\n", public)
		}
		if err := s.setInt(C.ZMQ_CURVE_SERVER, 1); err != nil {
			return err
		}
		return s.setKey(C.ZMQ_CURVE_SECRETKEY, "-curve-secret", secret)
	case cfg.curveServerKey != "":
		public, secret, err := curveKeypair()
		if err != nil {
			return err
		}
		if err := s.setKey(C.ZMQ_CURVE_SERVERKEY, "-curve-serverkey", cfg.curveServerKey); err != nil {
			return err
		}
		if err := s.setKey(C.ZMQ_CURVE_PUBLICKEY, "client public key", public); err != nil {
			return err
		}
		return s.setKey(C.ZMQ_CURVE_SECRETKEY, "client secret key", secret)
	}
	return nil
}

// setKey sets a CURVE key option from its 40-character Z85 text.
func (s *socket) setKey(opt C.int, what, z85 string) error {
	if len(z85) != 40 {
		return fmt.Errorf("%s: want a 40-character Z85 key, got %d characters", what, len(z85))
	}
	// libzmq takes a Z85 key as 41 bytes, the text and its NUL.
	cs := C.CString(z85)
	defer C.free(unsafe.Pointer(cs))
	if C.zmq_setsockopt(s.ptr, opt, unsafe.Pointer(cs), C.size_t(len(z85)+1)) != 0 {
		return fmt.Errorf("%s: %w", what, lastError(fmt.Sprintf("zmq_setsockopt(%d)", int(opt))))
	}
	return nil
}

// curveKeypair makes a new CURVE keypair, both keys in Z85.
func curveKeypair() (public, secret string, err error) {
	var pub, sec [41]C.char
	if C.zmq_curve_keypair(&pub[0], &sec[0]) != 0 {
		return "", "", lastError("zmq_curve_keypair")
	}
	return C.GoString(&pub[0]), C.GoString(&sec[0]), nil
}

// configureHeartbeat turns on ZMTP 3.1 heartbeats (PING/PONG) if asked to.
func (s *socket) configureHeartbeat(cfg *config) error {
	if cfg.heartbeatIvl <= 0 {
		return nil
	}
	timeout, ttl := cfg.heartbeatTimeout, cfg.heartbeatTTL
	if timeout <= 0 {
		timeout = 3 * cfg.heartbeatIvl
	}
	if ttl <= 0 {
		ttl = 10 * cfg.heartbeatIvl
	}
	for _, o := range []struct {
		opt C.int
		d   time.Duration
	}{
		{C.ZMQ_HEARTBEAT_IVL, cfg.heartbeatIvl},
		{C.ZMQ_HEARTBEAT_TIMEOUT, timeout},
		{C.ZMQ_HEARTBEAT_TTL, ttl},
	} {
		if err := s.setInt(o.opt, int(o.d/time.Millisecond)); err != nil {
			return err
		}
	}
	return nil
}

func (s *socket) bind(ep string) error {
	cs := C.CString(ep)
	defer C.free(unsafe.Pointer(cs))
	if C.zmq_bind(s.ptr, cs) != 0 {
		return lastError("zmq_bind " + ep)
	}
	return nil
}

func (s *socket) connect(ep string) error {
	cs := C.CString(ep)
	defer C.free(unsafe.Pointer(cs))
	if C.zmq_connect(s.ptr, cs) != 0 {
		return lastError("zmq_connect " + ep)
	}
	return nil
}

// peer runs the send/receive pattern of one socket.
type peer struct {
	cfg      *config
	s        *socket
	deadline time.Time
	out      *bufio.Writer
	started  bool
	sent     int // messages paced after the first
}

// remaining returns the time left before the overall deadline, in
// milliseconds, for ZMQ_RCVTIMEO/ZMQ_SNDTIMEO (at least 1 while time is left).
func (p *peer) remaining(op string) (int, error) {
	left := time.Until(p.deadline)
	if left <= 0 {
		return 0, fmt.Errorf("%s: timed out after %v", op, p.cfg.timeout)
	}
	ms := int(left / time.Millisecond)
	if ms < 1 {
		ms = 1
	}
	return ms, nil
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

// body returns the i'th (1-based) message body.
func (p *peer) body(i int) []byte {
	if len(p.cfg.mix) > 0 {
		b := []byte(p.cfg.prefix + strconv.Itoa(i))
		if n := p.cfg.mix[(i-1)%len(p.cfg.mix)].size; n > len(b) {
			b = append(b, strings.Repeat("x", n-len(b))...)
		}
		return b
	}
	if p.cfg.size > 0 {
		return []byte(p.cfg.prefix + strings.Repeat("x", p.cfg.size))
	}
	return []byte(p.cfg.prefix + fmt.Sprint(i))
}

// message returns the frames of the i'th (1-based) message.
func (p *peer) message(i int) [][]byte {
	multipart := p.cfg.multipart
	if len(p.cfg.mix) > 0 {
		multipart = p.cfg.mix[(i-1)%len(p.cfg.mix)].multipart
	}
	if multipart {
		return [][]byte{[]byte("hello"), p.body(i)}
	}
	return [][]byte{p.body(i)}
}

// pace sleeps -wait before the first send and -interval before every
// -burst'th later one.
func (p *peer) pace() {
	if !p.started {
		p.started = true
		time.Sleep(p.cfg.wait)
		return
	}
	p.sent++
	if p.sent%p.cfg.burst == 0 {
		time.Sleep(p.cfg.interval)
	}
}

// send sends one message made of frames, retrying on EINTR.
func (p *peer) send(frames [][]byte) error {
	for i, f := range frames {
		flags := C.int(0)
		if i < len(frames)-1 {
			flags = C.ZMQ_SNDMORE
		}
		for {
			ms, err := p.remaining("send")
			if err != nil {
				return err
			}
			if err := p.s.setInt(C.ZMQ_SNDTIMEO, ms); err != nil {
				return err
			}
			var ptr unsafe.Pointer
			if len(f) > 0 {
				ptr = unsafe.Pointer(&f[0])
			}
			if C.zmq_send(p.s.ptr, ptr, C.size_t(len(f)), flags) >= 0 {
				break
			}
			err = lastError("zmq_send")
			switch {
			case isErrno(err, C.EINTR):
				continue
			case isErrno(err, C.EAGAIN):
				return fmt.Errorf("send: timed out after %v (no peer?)", p.cfg.timeout)
			}
			return err
		}
	}
	return nil
}

// recv receives one whole message, all its frames, retrying on EINTR.
func (p *peer) recv() ([][]byte, error) {
	msg := (*C.zmq_msg_t)(C.malloc(C.sizeof_zmq_msg_t))
	defer C.free(unsafe.Pointer(msg))
	var frames [][]byte
	for {
		ms, err := p.remaining("receive")
		if err != nil {
			return nil, err
		}
		if err := p.s.setInt(C.ZMQ_RCVTIMEO, ms); err != nil {
			return nil, err
		}
		if C.zmq_msg_init(msg) != 0 {
			return nil, lastError("zmq_msg_init")
		}
		if C.zmq_msg_recv(msg, p.s.ptr, 0) < 0 {
			err := lastError("zmq_msg_recv")
			C.zmq_msg_close(msg)
			switch {
			case isErrno(err, C.EINTR):
				continue
			case isErrno(err, C.EAGAIN):
				return nil, fmt.Errorf("receive: timed out after %v with %d frame(s) of the message read",
					p.cfg.timeout, len(frames))
			}
			return nil, err
		}
		frames = append(frames, C.GoBytes(C.zmq_msg_data(msg), C.int(C.zmq_msg_size(msg))))
		more := C.zmq_msg_more(msg) != 0
		C.zmq_msg_close(msg)
		if !more {
			return frames, nil
		}
	}
}

func (p *peer) show(frames [][]byte) {
	if !p.cfg.print {
		return
	}
	for i, f := range frames {
		if i > 0 {
			p.out.WriteByte('|')
		}
		p.out.Write(f)
	}
	p.out.WriteByte('\n')
	p.out.Flush()
}

func (p *peer) sendAll() error {
	for i := 1; i <= p.cfg.count; i++ {
		p.pace()
		if err := p.send(p.message(i)); err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
	}
	return nil
}

func (p *peer) receiveAll() error {
	if p.s.typ == C.ZMQ_XSUB {
		// An XSUB subscribes by sending the subscription as a message.
		for _, t := range p.cfg.subscribe {
			if err := p.send([][]byte{append([]byte{1}, t...)}); err != nil {
				return fmt.Errorf("subscribe %q: %w", t, err)
			}
		}
	}
	for i := 1; i <= p.cfg.count; i++ {
		frames, err := p.recv()
		if err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
		p.show(frames)
	}
	if p.cfg.unsubscribeAfter && (p.s.typ == C.ZMQ_SUB || p.s.typ == C.ZMQ_XSUB) {
		for _, t := range p.cfg.subscribe {
			var err error
			if p.s.typ == C.ZMQ_SUB {
				err = p.s.setBytes(C.ZMQ_UNSUBSCRIBE, t)
			} else {
				err = p.send([][]byte{append([]byte{0}, t...)})
			}
			if err != nil {
				return fmt.Errorf("unsubscribe %q: %w", t, err)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil
}

// requestAll is the REQ/DEALER loop: send a message, wait for its reply.
func (p *peer) requestAll() error {
	for i := 1; i <= p.cfg.count; i++ {
		p.pace()
		if err := p.send(p.message(i)); err != nil {
			return fmt.Errorf("request %d: %w", i, err)
		}
		reply, err := p.recv()
		if err != nil {
			return fmt.Errorf("reply %d: %w", i, err)
		}
		p.show(reply)
	}
	return nil
}

// echoAll is the REP/ROUTER loop: receive a message, send it back. A ROUTER's
// first frame is the sender's routing id, which routes the echo back to it.
func (p *peer) echoAll() error {
	for i := 1; i <= p.cfg.count; i++ {
		frames, err := p.recv()
		if err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
		if p.s.typ == C.ZMQ_ROUTER && len(frames) > 0 {
			p.show(frames[1:])
		} else {
			p.show(frames)
		}
		if err := p.send(frames); err != nil {
			return fmt.Errorf("echo %d: %w", i, err)
		}
	}
	return nil
}

// zapHandler answers ZAP requests (RFC 27) for the sockets of one context: it
// is a REP socket bound to inproc://zeromq.zap.01. A PLAIN client passes when
// its user name and password are exactly user and pass; every other PLAIN
// client gets status 400. Other mechanisms pass.
type zapHandler struct {
	s          *socket
	user, pass string
}

func newZAPHandler(ctx unsafe.Pointer, user, pass string) (*zapHandler, error) {
	s, err := newSocket(ctx, C.ZMQ_REP)
	if err != nil {
		return nil, err
	}
	if err := s.bind("inproc://zeromq.zap.01"); err != nil {
		C.zmq_close(s.ptr)
		return nil, err
	}
	return &zapHandler{s: s, user: user, pass: pass}, nil
}

// serve answers requests until the context is terminated, then closes the
// socket. It owns the socket: no other goroutine may use it.
func (z *zapHandler) serve() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer func() {
		z.s.setInt(C.ZMQ_LINGER, 0)
		C.zmq_close(z.s.ptr)
	}()
	for {
		req, err := recvFrames(z.s)
		if err != nil {
			if !isErrno(err, C.ETERM) {
				fmt.Fprintf(os.Stderr, "zmqpeer: zap: %v\n", err)
			}
			return
		}
		if err := sendFrames(z.s, z.reply(req)); err != nil {
			if !isErrno(err, C.ETERM) {
				fmt.Fprintf(os.Stderr, "zmqpeer: zap: %v\n", err)
			}
			return
		}
	}
}

// reply builds the reply to one request: version, request id, status code,
// status text, user id, metadata.
func (z *zapHandler) reply(req [][]byte) [][]byte {
	// version, request id, domain, address, identity, mechanism, credentials...
	if len(req) < 6 || string(req[0]) != "1.0" {
		id := []byte{}
		if len(req) > 1 {
			id = req[1]
		}
		return zapReply(id, "500", "bad ZAP request", "")
	}
	id, mechanism, creds := req[1], string(req[5]), req[6:]
	if mechanism != "PLAIN" {
		return zapReply(id, "200", "OK", "")
	}
	if len(creds) == 2 && string(creds[0]) == z.user && string(creds[1]) == z.pass {
		return zapReply(id, "200", "OK", z.user)
	}
	return zapReply(id, "400", "wrong user name or password", "")
}

func zapReply(id []byte, code, text, user string) [][]byte {
	return [][]byte{[]byte("1.0"), id, []byte(code), []byte(text), []byte(user), {}}
}

// recvFrames receives one whole message, blocking, retrying on EINTR.
func recvFrames(s *socket) ([][]byte, error) {
	msg := (*C.zmq_msg_t)(C.malloc(C.sizeof_zmq_msg_t))
	defer C.free(unsafe.Pointer(msg))
	var frames [][]byte
	for {
		if C.zmq_msg_init(msg) != 0 {
			return nil, lastError("zmq_msg_init")
		}
		if C.zmq_msg_recv(msg, s.ptr, 0) < 0 {
			err := lastError("zmq_msg_recv")
			C.zmq_msg_close(msg)
			if isErrno(err, C.EINTR) {
				continue
			}
			return nil, err
		}
		frames = append(frames, C.GoBytes(C.zmq_msg_data(msg), C.int(C.zmq_msg_size(msg))))
		more := C.zmq_msg_more(msg) != 0
		C.zmq_msg_close(msg)
		if !more {
			return frames, nil
		}
	}
}

// sendFrames sends one message made of frames, blocking, retrying on EINTR.
func sendFrames(s *socket, frames [][]byte) error {
	for i, f := range frames {
		flags := C.int(0)
		if i < len(frames)-1 {
			flags = C.ZMQ_SNDMORE
		}
		if err := sendFrame(s, f, flags); err != nil {
			return err
		}
	}
	return nil
}

func sendFrame(s *socket, f []byte, flags C.int) error {
	var ptr unsafe.Pointer
	if len(f) > 0 {
		ptr = C.CBytes(f)
		defer C.free(ptr)
	}
	for C.zmq_send(s.ptr, ptr, C.size_t(len(f)), flags) < 0 {
		if err := lastError("zmq_send"); !isErrno(err, C.EINTR) {
			return err
		}
	}
	return nil
}
