package main

/*
#cgo pkg-config: libzmq
#include <stdlib.h>
#include <zmq.h>
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"unsafe"
)

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
