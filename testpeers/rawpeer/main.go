// Command rawpeer is a hand-written peer that speaks an old ZMTP version over
// plain TCP, so that a modern libzmq peer can be recorded downgrading to it
// (see testdata/record.sh). It accepts one connection on -bind, plays a PULL
// socket, reads -count messages and exits.
//
//	-mode zmtp20-pull   ZMTP 2.0 (RFC 15): greeting = signature
//	                    FF 00 00 00 00 00 00 00 01 7F (padding as libzmq
//	                    writes it for an empty identity), revision 01,
//	                    socket type 07 (PULL), then an empty identity frame
//	                    00 00; frames are flags (MORE 0x01, LONG 0x02) +
//	                    size (1 byte, or 8 if LONG) + body.
//	-mode zmtp10-pull   ZMTP 1.0 (RFC 13): an anonymous identity frame 01 00;
//	                    frames are length (1 byte, or FF + 8 bytes; it counts
//	                    the flags byte) + flags (MORE 0x01) + body.
//
// In both modes the first frame the peer sends is its identity, which is not
// counted as a message. With -print every message is written to stdout, its
// frames joined by "|". The zmtpdump binary never imports this package.
//
// Example:
//
//	rawpeer -mode zmtp20-pull -bind 127.0.0.1:7001 -count 2 -print
//
// Imports: nothing of ours: it writes ZMTP bytes by hand.
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

// maxFrame caps the frame size this peer accepts.
const maxFrame = 1 << 20

type config struct {
	mode    string
	bind    string
	count   int
	timeout time.Duration
	print   bool
}

func main() {
	var cfg config
	flag.StringVar(&cfg.mode, "mode", "", "zmtp20-pull or zmtp10-pull")
	flag.StringVar(&cfg.bind, "bind", "", "TCP address to listen on, e.g. 127.0.0.1:7001 or [::1]:7001")
	flag.IntVar(&cfg.count, "count", 1, "messages to read before exiting")
	flag.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "overall time limit")
	flag.BoolVar(&cfg.print, "print", false, "print each received message, frames as text joined by \"|\"")
	flag.Parse()

	if err := run(&cfg); err != nil {
		fmt.Fprintf(os.Stderr, "rawpeer: %v\n", err)
		os.Exit(1)
	}
}

// frameReader reads one frame: its body and whether more frames follow.
type frameReader func(r *bufio.Reader) (body []byte, more bool, err error)

func run(cfg *config) error {
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", flag.Args())
	}
	if cfg.bind == "" {
		return errors.New("-bind is required")
	}
	var greeting []byte
	var read frameReader
	switch cfg.mode {
	case "zmtp20-pull":
		greeting = []byte{
			0xff, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x7f, // signature
			0x01,       // revision: ZMTP 2.0
			0x07,       // socket type: PULL
			0x00, 0x00, // identity: final-short, empty
		}
		read = readFrame20
	case "zmtp10-pull":
		greeting = []byte{0x01, 0x00} // anonymous identity: length 1 (the flags), flags 0
		read = readFrame10
	default:
		return fmt.Errorf("-mode: want zmtp20-pull or zmtp10-pull, got %q", cfg.mode)
	}

	deadline := time.Now().Add(cfg.timeout)
	ln, err := net.Listen("tcp", cfg.bind)
	if err != nil {
		return err
	}
	defer ln.Close()
	if err := ln.(*net.TCPListener).SetDeadline(deadline); err != nil {
		return err
	}
	conn, err := ln.Accept()
	if err != nil {
		return fmt.Errorf("accept: %w", err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}

	if _, err := conn.Write(greeting); err != nil {
		return fmt.Errorf("send greeting: %w", err)
	}
	r := bufio.NewReader(conn)
	if cfg.mode == "zmtp20-pull" {
		// The peer's greeting up to its identity frame: signature (10),
		// revision, socket type.
		var peer [12]byte
		if _, err := io.ReadFull(r, peer[:]); err != nil {
			return fmt.Errorf("read greeting: %w", err)
		}
		if peer[0] != 0xff || peer[9]&1 == 0 {
			return fmt.Errorf("peer greeting % x: not ZMTP 2.0 or later", peer[:])
		}
	}
	// The peer's identity is its first frame. Its flags are not checked
	// (RFC 13): a 2.0 peer talking to 1.0 sends 0x7F there, MORE included.
	if _, _, err := read(r); err != nil {
		return fmt.Errorf("read identity: %w", err)
	}
	for i := 1; i <= cfg.count; i++ {
		frames, err := readMessage(r, read)
		if err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
		if cfg.print {
			fmt.Println(strings.Join(frames, "|"))
		}
	}
	return nil
}

// readMessage reads the frames of one message.
func readMessage(r *bufio.Reader, read frameReader) ([]string, error) {
	var frames []string
	for {
		body, more, err := read(r)
		if err != nil {
			return nil, err
		}
		frames = append(frames, string(body))
		if !more {
			return frames, nil
		}
	}
}

// readFrame20 reads a ZMTP 2.0 frame: flags, size (1 byte, 8 if LONG), body.
func readFrame20(r *bufio.Reader) ([]byte, bool, error) {
	flags, err := r.ReadByte()
	if err != nil {
		return nil, false, err
	}
	if flags&^0x03 != 0 {
		return nil, false, fmt.Errorf("frame flags %#02x: reserved bits set", flags)
	}
	var size uint64
	if flags&0x02 != 0 {
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, false, unexpected(err)
		}
		size = binary.BigEndian.Uint64(b[:])
	} else {
		b, err := r.ReadByte()
		if err != nil {
			return nil, false, unexpected(err)
		}
		size = uint64(b)
	}
	body, err := readBody(r, size)
	return body, flags&0x01 != 0, err
}

// readFrame10 reads a ZMTP 1.0 frame: length (1 byte, or 0xFF and 8 bytes)
// counting the flags byte, flags, body.
func readFrame10(r *bufio.Reader) ([]byte, bool, error) {
	b, err := r.ReadByte()
	if err != nil {
		return nil, false, err
	}
	length := uint64(b)
	if b == 0xff {
		var l [8]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return nil, false, unexpected(err)
		}
		length = binary.BigEndian.Uint64(l[:])
	}
	if length == 0 {
		return nil, false, errors.New("frame length 0")
	}
	flags, err := r.ReadByte()
	if err != nil {
		return nil, false, unexpected(err)
	}
	body, err := readBody(r, length-1)
	return body, flags&0x01 != 0, err
}

func readBody(r *bufio.Reader, size uint64) ([]byte, error) {
	if size > maxFrame {
		return nil, fmt.Errorf("frame of %d bytes: over the %d-byte limit", size, maxFrame)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, unexpected(err)
	}
	return body, nil
}

// unexpected turns an EOF inside a frame into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
