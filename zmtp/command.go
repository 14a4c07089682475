package zmtp

import (
	"encoding/binary"
	"fmt"
	"math"
)

// beginCommand starts a command frame whose header has been read.
func (d *Decoder) beginCommand(size uint64, emit func(Event)) {
	// RFC 23, "Formal Grammar": command-body = command-name command-data
	// and command-name = OCTET 1*255command-name-char, so a command body
	// holds at least the name length octet.
	if size == 0 {
		d.fail(d.frameOff, fmt.Errorf("empty command body at offset %d: %w", d.frameOff, ErrMalformedCommand), emit)
		return
	}
	d.size = size
	d.remain = size
	d.cmdBuf = d.cmdBuf[:0]
	d.st = stCommand
}

// feedCommand consumes command body bytes, keeping the first MaxCommand.
func (d *Decoder) feedCommand(p []byte, emit func(Event)) []byte {
	n := len(p)
	if uint64(n) > d.remain {
		n = int(d.remain)
	}
	if room := int(d.opts.MaxCommand) - len(d.cmdBuf); room > 0 {
		d.cmdBuf = append(d.cmdBuf, p[:min(n, room)]...)
	}
	d.remain -= uint64(n)
	d.off += uint64(n)
	if d.remain == 0 {
		d.endCommand(emit)
	}
	return p[n:]
}

// endCommand parses the kept command body and emits the Command.
func (d *Decoder) endCommand(emit func(Event)) {
	d.st = stFlags
	off, body := d.frameOff, d.cmdBuf
	truncated := uint64(len(body)) < d.size
	nameLen := int(body[0])
	// RFC 23: command-name = OCTET 1*255command-name-char.
	if nameLen == 0 {
		d.fail(off, fmt.Errorf("command at offset %d has an empty name (RFC 23: command-name = OCTET 1*255command-name-char): %w",
			off, ErrMalformedCommand), emit)
		return
	}
	if uint64(1+nameLen) > d.size {
		d.fail(off, fmt.Errorf("command name length %d at offset %d overruns the %d-byte body: %w",
			nameLen, off, d.size, ErrMalformedCommand), emit)
		return
	}
	// The name fits in body: MaxCommand >= 256.
	data := body[1+nameLen:]
	dataSize := d.size - uint64(1+nameLen) // real size, data may be cut
	hdrLen := uint64(2)
	if d.flags&flagLong != 0 {
		hdrLen = 9
	}
	c := &d.evCommand
	*c = Command{
		Header:    Header{Offset: off, Len: hdrLen + d.size},
		Name:      commandName(body[1 : 1+nameLen]),
		Size:      d.size,
		Data:      data[:len(data):len(data)],
		Truncated: truncated,
		Mechanism: d.mech,
	}
	if err := d.parseCommand(c, data, dataSize, truncated); err != nil {
		d.fail(off, fmt.Errorf("%s command at offset %d: %w", c.Name, off, err), emit)
		return
	}
	if !d.greeted {
		d.inferCommand(c)
	}
	if c.Name == "MESSAGE" && c.Encrypted {
		d.emitCurveCommand(c, body, emit)
		return
	}
	emit(c)
}

// CURVE command sizes (RFC 26, "High-level Grammar"), counted after the
// command name.
const (
	curveHelloData   = 2 + 72 + 32 + 8 + 80 // version, padding, C', nonce, box
	curveWelcomeData = 16 + 144             // long nonce, box
	curveCookie      = 96                   // cookie-nonce 16 + cookie-box 80
	curveShortNonce  = 8
	curveInitiateMin = curveCookie + curveShortNonce + 144
	curveReadyMin    = curveShortNonce + 16
	curveMessageMin  = curveShortNonce + 17
	maxPingContext   = 16 // RFC 37: ping-context = 0*16OCTET
)

// parseCommand fills in the fields of the commands it knows, checking them
// against their RFC. data is what was kept of the data after the name,
// dataSize its real size.
func (d *Decoder) parseCommand(c *Command, data []byte, dataSize uint64, truncated bool) error {
	var err error
	switch c.Name {
	case "READY", "INITIATE":
		switch {
		case d.clearMeta:
			c.Properties, err = d.parseMetadata(data, truncated)
			d.noteSocketType(c.Properties)
		case d.curve && c.Name == "READY":
			// ready = %d5 "READY" ready-nonce ready-box; ready-box = 16*OCTET
			if dataSize < curveReadyMin {
				return fmt.Errorf("CURVE READY data of %d bytes, RFC 26 wants a nonce (8) and a box of 16 or more: %w", dataSize, ErrMalformedCommand)
			}
			c.Nonce = data[:curveShortNonce:curveShortNonce]
			c.BoxSize = dataSize - curveShortNonce
			c.Encrypted = true
		case d.curve:
			// initiate = %d8 "INITIATE" cookie initiate-nonce initiate-box;
			// cookie = 96 octets, initiate-box = 144*OCTET
			if dataSize < curveInitiateMin {
				return fmt.Errorf("CURVE INITIATE data of %d bytes, RFC 26 wants a cookie (96), a nonce (8) and a box of 144 or more: %w",
					dataSize, ErrMalformedCommand)
			}
			c.Cookie = data[:curveCookie:curveCookie]
			c.Nonce = data[curveCookie : curveCookie+curveShortNonce : curveCookie+curveShortNonce]
			c.BoxSize = dataSize - curveCookie - curveShortNonce
			c.Encrypted = true
		}
	case "ERROR":
		c.Reason, err = parseReason(data, truncated)
	case "HELLO":
		switch {
		case d.mech == "PLAIN":
			c.Username, c.Password, err = parsePlainHello(data, truncated)
		case d.curve:
			// hello = %d5 "HELLO" hello-version hello-padding hello-client
			// hello-nonce hello-box: 200 octets.
			if dataSize != curveHelloData {
				return fmt.Errorf("CURVE HELLO of %d bytes, RFC 26 wants 200: %w", c.Size, ErrMalformedCommand)
			}
			c.CurveVersion = [2]byte(data[:2])
			c.Key = data[74:106:106]
			c.Nonce = data[106:114:114]
			c.BoxSize = 80
		}
	case "WELCOME":
		if d.curve {
			// welcome = %d7 "WELCOME" welcome-nonce welcome-box: 168 octets.
			if dataSize != curveWelcomeData {
				return fmt.Errorf("CURVE WELCOME of %d bytes, RFC 26 wants 168: %w", c.Size, ErrMalformedCommand)
			}
			c.Nonce = data[:16:16]
			c.BoxSize = 144
		}
	case "MESSAGE":
		if d.curve {
			// message = %d7 "MESSAGE" message-nonce message-box;
			// message-box = 17*OCTET
			if dataSize < curveMessageMin {
				return fmt.Errorf("CURVE MESSAGE data of %d bytes, RFC 26 wants a nonce (8) and a box of 17 or more: %w", dataSize, ErrMalformedCommand)
			}
			c.Nonce = data[:curveShortNonce:curveShortNonce]
			c.BoxSize = dataSize - curveShortNonce
			c.Encrypted = true
		}
	case "PING":
		// ping = command-size %d4 "PING" ping-ttl ping-context;
		// ping-ttl = 2OCTET; ping-context = 0*16OCTET
		if dataSize < 2 || dataSize > 2+maxPingContext {
			return fmt.Errorf("PING data of %d bytes, RFC 37 wants a 2-octet TTL and 0 to 16 octets of context: %w", dataSize, ErrMalformedCommand)
		}
		c.TTL = binary.BigEndian.Uint16(data)
		c.Context = data[2:len(data):len(data)]
	case "PONG":
		// pong = command-size %d4 "PONG" ping-context
		if dataSize > maxPingContext {
			return fmt.Errorf("PONG context of %d bytes, RFC 37: it MUST not exceed 16 octets: %w", dataSize, ErrMalformedCommand)
		}
		c.Context = c.Data
	case "SUBSCRIBE", "CANCEL":
		// subscribe = command-size %d9 "SUBSCRIBE" subscription;
		// subscription = *OCTET
		c.Topic = c.Data
	}
	return err
}

// emitCurveCommand emits a command-form CURVE MESSAGE (RFC 26) as an
// encrypted one-frame Message, like the data-frame form libzmq sends.
func (d *Decoder) emitCurveCommand(c *Command, body []byte, emit func(Event)) {
	keep := body[:min(len(body), int(d.opts.MaxBody))]
	d.cmdFrame[0] = Frame{Size: c.Size, Data: keep[:len(keep):len(keep)]}
	m := &d.evMessage
	*m = Message{
		Header:    c.Header,
		Frames:    d.cmdFrame[:],
		Bytes:     c.Size,
		Encrypted: true,
		Mechanism: d.mech,
		Nonce:     c.Nonce,
		BoxSize:   c.BoxSize,
	}
	emit(m)
}

// noteSocketType records the sender's Socket-Type property.
func (d *Decoder) noteSocketType(props []Property) {
	for _, p := range props {
		if isProperty(p.Name, "Socket-Type") {
			d.sockType = socketTypeName(p.Value)
			d.subs = d.sockType == "SUB" || d.sockType == "XSUB"
		}
	}
}

// parsePlainHello parses a PLAIN HELLO (RFC 24: hello = command-size %d5
// "HELLO" username password; username = OCTET 0*255username-char;
// password = OCTET 0*255password-char). A field cut by the command limit
// is returned as far as it was kept.
func parsePlainHello(data []byte, truncated bool) (user, pass []byte, err error) {
	field := func(at int) ([]byte, int, error) {
		if at >= len(data) {
			if truncated {
				return nil, at, nil
			}
			return nil, at, fmt.Errorf("PLAIN HELLO ends before a field length (RFC 24): %w", ErrMalformedCommand)
		}
		n, rest := int(data[at]), data[at+1:]
		if n > len(rest) {
			if !truncated {
				return nil, at, fmt.Errorf("PLAIN HELLO field length %d overruns the command (RFC 24): %w", n, ErrMalformedCommand)
			}
			n = len(rest)
		}
		return rest[:n:n], at + 1 + n, nil
	}
	user, at, err := field(0)
	if err != nil {
		return nil, nil, err
	}
	pass, at, err = field(at)
	if err != nil {
		return nil, nil, err
	}
	if at < len(data) {
		return nil, nil, fmt.Errorf("PLAIN HELLO has %d bytes after the password (RFC 24): %w", len(data)-at, ErrMalformedCommand)
	}
	return user, pass, nil
}

// parseMetadata parses READY/INITIATE metadata (RFC 23, "The NULL Security
// Mechanism": metadata = *property; property = name value; name = OCTET
// 1*255name-char; value = 4OCTET *OCTET). When the body was truncated, the
// property cut by the limit and those after it are left out.
func (d *Decoder) parseMetadata(data []byte, truncated bool) ([]Property, error) {
	props := d.props[:0]
	for at := 0; at < len(data); {
		nameLen := int(data[at])
		// "The name SHALL be 1 to 255 characters. Zero-sized names are
		// not valid."
		if nameLen == 0 {
			return nil, fmt.Errorf("property at byte %d has an empty name: %w", at, ErrMalformedCommand)
		}
		valueAt := at + 1 + nameLen + 4
		if valueAt > len(data) {
			if truncated {
				break
			}
			return nil, fmt.Errorf("property at byte %d overruns the command: %w", at, ErrMalformedCommand)
		}
		name := data[at+1 : at+1+nameLen : at+1+nameLen]
		valueLen := binary.BigEndian.Uint32(data[valueAt-4:])
		// "The value SHALL be 0 to 2,147,483,647 (2^31-1 ...) octets."
		if valueLen > math.MaxInt32 {
			return nil, fmt.Errorf("property %q value length %d above 2^31-1: %w", name, valueLen, ErrMalformedCommand)
		}
		if uint64(valueLen) > uint64(len(data)-valueAt) {
			if truncated {
				break
			}
			return nil, fmt.Errorf("property %q value length %d overruns the command: %w", name, valueLen, ErrMalformedCommand)
		}
		end := valueAt + int(valueLen)
		props = append(props, Property{Name: name, Value: data[valueAt:end:end]})
		at = end
	}
	d.props = props // keep the grown array for the next command
	return props, nil
}

// parseReason returns the reason of an ERROR command (RFC 23:
// error-reason = OCTET 0*255VCHAR). A reason cut by the command limit is
// returned as far as it was kept.
func parseReason(data []byte, truncated bool) ([]byte, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("no reason length: %w", ErrMalformedCommand)
	}
	n, reason := int(data[0]), data[1:]
	if n > len(reason) {
		if !truncated {
			return nil, fmt.Errorf("reason length %d overruns the command: %w", n, ErrMalformedCommand)
		}
		n = len(reason)
	}
	return reason[:n:n], nil
}

// commandName returns name as a string without allocating for the
// commands of RFC 23, 37 and the security mechanisms.
func commandName(name []byte) string {
	switch string(name) {
	case "READY":
		return "READY"
	case "ERROR":
		return "ERROR"
	case "HELLO":
		return "HELLO"
	case "WELCOME":
		return "WELCOME"
	case "INITIATE":
		return "INITIATE"
	case "PING":
		return "PING"
	case "PONG":
		return "PONG"
	case "SUBSCRIBE":
		return "SUBSCRIBE"
	case "CANCEL":
		return "CANCEL"
	case "MESSAGE":
		return "MESSAGE"
	case "JOIN":
		return "JOIN"
	case "LEAVE":
		return "LEAVE"
	}
	return string(name)
}
