package main

/*
#cgo pkg-config: libzmq
#include <stdlib.h>
#include <zmq.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"runtime"
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
	if cfg.rcvbuf > 0 {
		if err := s.setInt(C.ZMQ_RCVBUF, cfg.rcvbuf); err != nil {
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
