package main

/*
#cgo pkg-config: libzmq
#include <stdlib.h>
#include <zmq.h>
*/
import "C"

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

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

// echoAll is the REP/ROUTER loop: receive a message, wait -reply-delay, send
// it back. A ROUTER's first frame is the sender's routing id, which routes the
// echo back to it.
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
		time.Sleep(p.cfg.replyDelay)
		if err := p.send(frames); err != nil {
			return fmt.Errorf("echo %d: %w", i, err)
		}
	}
	return nil
}
