package main

/*
#cgo pkg-config: libzmq
#include <errno.h>
#include <stdlib.h>
#include <zmq.h>

// zp_send_many sends up to n messages, round-robin over the nsocks sockets
// in socks starting at *next (updated). A message is the frame head (with
// MORE) when multipart, then body. It returns the messages sent; when fewer
// than n, *err holds the errno that stopped it (EAGAIN: a send timed out).
// Sending in C keeps one cgo call per batch, not per message, so that the
// generator costs what a C application would.
static int zp_send_many(void **socks, int nsocks, int *next, int multipart,
		const void *head, size_t head_len, const void *body, size_t body_len,
		int n, int *err) {
	int i, tries;
	*err = 0;
	for (i = 0; i < n; i++) {
		void *s = socks[*next];
		if (multipart) {
			while (zmq_send(s, head, head_len, ZMQ_SNDMORE) < 0) {
				if (zmq_errno() != EINTR) {
					*err = zmq_errno();
					return i;
				}
			}
		}
		// Once a first frame is queued libzmq takes the rest of the
		// message, so EAGAIN cannot stop a body after its head; retry a
		// few times anyway rather than leave a message half sent.
		for (tries = 0; zmq_send(s, body, body_len, 0) < 0; tries++) {
			int e = zmq_errno();
			if (e == EINTR || (multipart && e == EAGAIN && tries < 100)) {
				continue;
			}
			*err = e;
			return i;
		}
		*next = (*next + 1) % nsocks;
	}
	return n;
}

// zp_recv_many receives until n whole messages have arrived. Every frame's
// size is added to *bytes. It returns the messages completed; when fewer
// than n, *err holds the errno that stopped it (EAGAIN: a receive timed out).
// A message counts when its last frame arrives, so a call that stops inside
// a message is continued by the next call.
static int zp_recv_many(void *s, zmq_msg_t *m, int n, long long *bytes, int *err) {
	int got = 0;
	*err = 0;
	while (got < n) {
		int rc = zmq_msg_recv(m, s, 0);
		if (rc < 0) {
			if (zmq_errno() == EINTR) {
				continue;
			}
			*err = zmq_errno();
			return got;
		}
		*bytes += rc;
		if (!zmq_msg_more(m)) {
			got++;
		}
	}
	return got;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
	"unsafe"
)

// Load mode (-report, -connections or -rate) turns zmqpeer into a load
// generator for benchmarks: every message has the same body, batches of
// messages are sent or received in one cgo call, and on exit the peer prints
// what it achieved on stderr, in this exact form (bench/ parses it):
//
//	zmqpeer: report: sent 2000000 messages, 128000000 bytes in 0.912345 s: 2192130 msgs/s, 133.8 MiB/s
//
// A receiver times from its first message to its last: that is the
// application's throughput. A sender times from its first send to its last
// send returning, which only says how fast libzmq queued them.

// loadMode says whether cfg asks for the load generator.
func (cfg *config) loadMode() bool {
	return cfg.report || cfg.connections > 1 || cfg.rate > 0
}

// batch is how many messages one cgo call sends or receives at most.
const batch = 1024

// pollTimeout is the send and receive timeout set on load sockets: each
// blocking call returns at least this often, so that -timeout is kept.
const pollTimeout = 100 * time.Millisecond

// loadRole returns "send" or "recv" for a socket type in load mode.
func loadRole(cfg *config) (string, error) {
	switch cfg.typ {
	case "push", "pub", "xpub":
		return "send", nil
	case "pull", "sub", "xsub":
		return "recv", nil
	case "pair":
		if cfg.mode == "send" || (cfg.mode == "" && cfg.connect != "") {
			return "send", nil
		}
		return "recv", nil
	}
	return "", fmt.Errorf("-report, -connections and -rate work with push, pull, pub, sub, xpub, xsub and pair, not %s", cfg.typ)
}

// checkLoad validates the flags of load mode.
func checkLoad(cfg *config) (string, error) {
	role, err := loadRole(cfg)
	if err != nil {
		return "", err
	}
	switch {
	case cfg.print:
		return "", errors.New("-print does not go with -report, -connections or -rate")
	case cfg.unsubscribeAfter:
		return "", errors.New("-unsubscribe-after does not go with -report, -connections or -rate")
	case cfg.connections < 1:
		return "", errors.New("-connections must be at least 1")
	case cfg.connections > 1 && cfg.connect == "":
		return "", errors.New("-connections needs -connect")
	case cfg.rate < 0:
		return "", errors.New("-rate must not be negative")
	case cfg.rate > 0 && role != "send":
		return "", errors.New("-rate is for sending sockets")
	case cfg.interval > 0:
		return "", errors.New("-interval does not go with load mode: use -rate")
	case cfg.typ == "xsub":
		return "", errors.New("load mode receives with sub, not xsub")
	}
	return role, nil
}

// loadSockets are the sockets of a load run and their C-side handles.
type loadSockets struct {
	socks []*socket
	arr   *unsafe.Pointer // C array of the socket pointers
}

func openLoadSockets(ctx unsafe.Pointer, cfg *config, typ C.int) (*loadSockets, error) {
	ls := &loadSockets{}
	ls.arr = (*unsafe.Pointer)(C.malloc(C.size_t(cfg.connections) * C.size_t(unsafe.Sizeof(unsafe.Pointer(nil)))))
	arr := unsafe.Slice(ls.arr, cfg.connections)
	for i := range cfg.connections {
		s, err := newSocket(ctx, typ)
		if err != nil {
			ls.close(0)
			return nil, err
		}
		ls.socks = append(ls.socks, s)
		arr[i] = s.ptr
		if err := s.configure(cfg); err != nil {
			ls.close(0)
			return nil, err
		}
		ms := int(pollTimeout / time.Millisecond)
		if err := s.setInt(C.ZMQ_SNDTIMEO, ms); err != nil {
			ls.close(0)
			return nil, err
		}
		if err := s.setInt(C.ZMQ_RCVTIMEO, ms); err != nil {
			ls.close(0)
			return nil, err
		}
		if cfg.bind != "" {
			err = s.bind(cfg.bind)
		} else {
			err = s.connect(cfg.connect)
		}
		if err != nil {
			ls.close(0)
			return nil, err
		}
	}
	return ls, nil
}

// close closes every socket with the given linger.
func (ls *loadSockets) close(linger time.Duration) {
	for _, s := range ls.socks {
		s.setInt(C.ZMQ_LINGER, int(linger/time.Millisecond))
		C.zmq_close(s.ptr)
	}
	C.free(unsafe.Pointer(ls.arr))
}

// loadResult is what a load run achieved.
type loadResult struct {
	verb       string // "sent" or "received"
	msgs       int64
	bytes      int64
	start, end time.Time
}

func (r loadResult) String() string {
	secs := r.end.Sub(r.start).Seconds()
	rate, mib := 0.0, 0.0
	if secs > 0 {
		rate = float64(r.msgs) / secs
		mib = float64(r.bytes) / secs / (1 << 20)
	}
	return fmt.Sprintf("report: %s %d messages, %d bytes in %.6f s: %.0f msgs/s, %.1f MiB/s",
		r.verb, r.msgs, r.bytes, secs, rate, mib)
}

// runLoad is run for load mode: it opens -connections sockets on ctx,
// sends or receives -count messages in all, and reports.
func runLoad(ctx unsafe.Pointer, cfg *config, typ C.int) error {
	role, err := checkLoad(cfg)
	if err != nil {
		return err
	}
	ls, err := openLoadSockets(ctx, cfg, typ)
	if err != nil {
		return err
	}
	defer ls.close(cfg.linger)
	deadline := time.Now().Add(cfg.timeout)
	var res loadResult
	if role == "send" {
		res, err = sendLoad(cfg, ls, deadline)
	} else {
		res, err = recvLoad(cfg, ls.socks[0], deadline)
	}
	fmt.Fprintf(os.Stderr, "zmqpeer: %v\n", res)
	if err == nil {
		time.Sleep(cfg.hold)
	}
	return err
}

// sendLoad sends cfg.count messages round-robin over the sockets, at
// cfg.rate messages per second if that is set.
func sendLoad(cfg *config, ls *loadSockets, deadline time.Time) (loadResult, error) {
	body := C.CBytes([]byte(cfg.prefix + strings.Repeat("x", cfg.size)))
	defer C.free(body)
	bodyLen := C.size_t(len(cfg.prefix) + cfg.size)
	head := C.CBytes([]byte("hello"))
	defer C.free(head)
	multipart := C.int(0)
	perMsg := int64(bodyLen)
	if cfg.multipart {
		multipart = 1
		perMsg += 5
	}
	next := (*C.int)(C.malloc(C.sizeof_int))
	defer C.free(unsafe.Pointer(next))
	errp := (*C.int)(C.malloc(C.sizeof_int))
	defer C.free(unsafe.Pointer(errp))
	*next = 0

	time.Sleep(cfg.wait)
	res := loadResult{verb: "sent", start: time.Now()}
	total := int64(cfg.count)
	for res.msgs < total {
		n := min(total-res.msgs, batch)
		if cfg.rate > 0 {
			// Send what is due by now; sleep until the next one is.
			due := int64(time.Since(res.start).Seconds()*cfg.rate) + 1
			n = min(n, due-res.msgs)
			if n <= 0 {
				wait := time.Duration(float64(res.msgs)/cfg.rate*float64(time.Second)) - time.Since(res.start)
				time.Sleep(max(wait, 50*time.Microsecond))
				continue
			}
		}
		got := C.zp_send_many(ls.arr, C.int(len(ls.socks)), next, multipart, head, 5, body, bodyLen, C.int(n), errp)
		res.msgs += int64(got)
		res.end = time.Now()
		if int64(got) == n {
			continue
		}
		e := &zmqError{op: "zmq_send", errno: int(*errp)}
		if e.errno != int(C.EAGAIN) {
			res.bytes = res.msgs * perMsg
			return res, fmt.Errorf("message %d: %w", res.msgs+1, e)
		}
		if time.Now().After(deadline) {
			res.bytes = res.msgs * perMsg
			return res, fmt.Errorf("message %d: send: timed out after %v (no peer?)", res.msgs+1, cfg.timeout)
		}
	}
	res.bytes = res.msgs * perMsg
	return res, nil
}

// recvLoad receives cfg.count messages on s, timing from the first.
func recvLoad(cfg *config, s *socket, deadline time.Time) (loadResult, error) {
	msg := (*C.zmq_msg_t)(C.malloc(C.sizeof_zmq_msg_t))
	defer C.free(unsafe.Pointer(msg))
	if C.zmq_msg_init(msg) != 0 {
		return loadResult{verb: "received"}, lastError("zmq_msg_init")
	}
	defer C.zmq_msg_close(msg)
	bytes := (*C.longlong)(C.malloc(C.sizeof_longlong))
	defer C.free(unsafe.Pointer(bytes))
	errp := (*C.int)(C.malloc(C.sizeof_int))
	defer C.free(unsafe.Pointer(errp))
	*bytes = 0

	res := loadResult{verb: "received"}
	total := int64(cfg.count)
	for res.msgs < total {
		// The first message alone, to start the clock when it arrives.
		n := int64(1)
		if res.msgs > 0 {
			n = min(total-res.msgs, batch)
		}
		got := C.zp_recv_many(s.ptr, msg, C.int(n), bytes, errp)
		now := time.Now()
		if got > 0 {
			if res.msgs == 0 {
				res.start = now
			}
			res.msgs += int64(got)
			res.end = now
		}
		res.bytes = int64(*bytes)
		if int64(got) == n {
			continue
		}
		e := &zmqError{op: "zmq_msg_recv", errno: int(*errp)}
		if e.errno != int(C.EAGAIN) {
			return res, fmt.Errorf("message %d: %w", res.msgs+1, e)
		}
		if now.After(deadline) {
			return res, fmt.Errorf("message %d: receive: timed out after %v", res.msgs+1, cfg.timeout)
		}
	}
	return res, nil
}
