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
	raw := body[1 : 1+nameLen]
	spec := lookupCommand(raw)
	if k, ok := Counted(spec.kind); ok {
		d.cmds[k]++
	}
	c := &d.evCommand
	*c = Command{
		Header:    Header{Offset: off, Len: hdrLen + d.size},
		Kind:      spec.kind,
		Name:      commandName(spec.kind, raw),
		Size:      d.size,
		Data:      data[:len(data):len(data)],
		Truncated: truncated,
		Mechanism: d.mech,
	}
	if spec.parse != nil {
		if err := spec.parse(d, c, data, dataSize, truncated); err != nil {
			d.fail(off, fmt.Errorf("%s command at offset %d: %w", c.Name, off, err), emit)
			return
		}
	}
	if !d.greeted {
		d.inferCommand(c)
	}
	if c.Kind == KindMessage && c.Encrypted {
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

// commandParser fills in the fields of one command, checking them against
// its RFC. data is what was kept of the data after the name, dataSize its
// real size.
type commandParser func(d *Decoder, c *Command, data []byte, dataSize uint64, truncated bool) error

// commandSpec is what the decoder knows of a command name: its kind and
// the parser of its data (nil: the command has only Name, Size and Data).
type commandSpec struct {
	kind  CommandKind
	parse commandParser
}

// commandParsers are the commands of RFC 23, 24, 26, 37 (and libzmq's
// JOIN and LEAVE), keyed by name, as x/net/http2's frameParsers: a Command's
// Kind is set from here once, and printers switch on it. Read only.
var commandParsers = map[string]commandSpec{
	"READY":     {KindReady, (*Decoder).parseReady},
	"ERROR":     {KindError, parseError},
	"SUBSCRIBE": {KindSubscribe, parseSubscription},
	"CANCEL":    {KindCancel, parseSubscription},
	"PING":      {KindPing, parsePing},
	"PONG":      {KindPong, parsePong},
	"HELLO":     {KindHello, (*Decoder).parseHello},
	"WELCOME":   {KindWelcome, (*Decoder).parseWelcome},
	"INITIATE":  {KindInitiate, (*Decoder).parseInitiate},
	"MESSAGE":   {KindMessage, (*Decoder).parseMessage},
	"JOIN":      {KindJoin, nil},
	"LEAVE":     {KindLeave, nil},
}

// lookupCommand returns what the decoder knows of the command named name:
// the zero commandSpec (KindUnknown, no parser) for a name it does not
// know. It does not allocate.
func lookupCommand(name []byte) commandSpec { return commandParsers[string(name)] }

// commandName returns name as a string without allocating for the
// commands the decoder knows (kind is lookupCommand(name).kind).
func commandName(kind CommandKind, name []byte) string {
	if kind == KindUnknown {
		return string(name)
	}
	return kind.String()
}

// parseReady parses a READY: metadata in the clear (NULL, PLAIN, GSSAPI),
// a nonce and a box under CURVE.
func (d *Decoder) parseReady(c *Command, data []byte, dataSize uint64, truncated bool) error {
	switch {
	case d.clearMeta:
		return d.parseClearMetadata(c, data, truncated)
	case d.curve:
		// ready = %d5 "READY" ready-nonce ready-box; ready-box = 16*OCTET
		if dataSize < curveReadyMin {
			return fmt.Errorf("CURVE READY data of %d bytes, RFC 26 wants a nonce (8) and a box of 16 or more: %w", dataSize, ErrMalformedCommand)
		}
		c.Nonce = data[:curveShortNonce:curveShortNonce]
		c.BoxSize = dataSize - curveShortNonce
		c.Encrypted = true
	}
	return nil
}

// parseInitiate parses an INITIATE: metadata in the clear (PLAIN), a
// cookie, a nonce and a box under CURVE.
func (d *Decoder) parseInitiate(c *Command, data []byte, dataSize uint64, truncated bool) error {
	switch {
	case d.clearMeta:
		return d.parseClearMetadata(c, data, truncated)
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
	return nil
}

// parseClearMetadata reads the metadata of a READY or INITIATE sent in the
// clear and notes the sender's socket type.
func (d *Decoder) parseClearMetadata(c *Command, data []byte, truncated bool) error {
	var err error
	c.Properties, err = d.parseMetadata(data, truncated)
	d.noteSocketType(c.Properties)
	return err
}

// parseError parses an ERROR's reason.
func parseError(_ *Decoder, c *Command, data []byte, _ uint64, truncated bool) error {
	var err error
	c.Reason, err = parseReason(data, truncated)
	return err
}

// parseHello parses a HELLO: PLAIN credentials or CURVE's fixed fields.
func (d *Decoder) parseHello(c *Command, data []byte, dataSize uint64, truncated bool) error {
	switch {
	case d.mech == "PLAIN":
		var err error
		c.Username, c.Password, err = parsePlainHello(data, truncated)
		return err
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
	return nil
}

// parseWelcome parses a CURVE WELCOME's nonce and box size.
func (d *Decoder) parseWelcome(c *Command, data []byte, dataSize uint64, _ bool) error {
	if d.curve {
		// welcome = %d7 "WELCOME" welcome-nonce welcome-box: 168 octets.
		if dataSize != curveWelcomeData {
			return fmt.Errorf("CURVE WELCOME of %d bytes, RFC 26 wants 168: %w", c.Size, ErrMalformedCommand)
		}
		c.Nonce = data[:16:16]
		c.BoxSize = 144
	}
	return nil
}

// parseMessage parses a CURVE MESSAGE in command form.
func (d *Decoder) parseMessage(c *Command, data []byte, dataSize uint64, _ bool) error {
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
	return nil
}

// parsePing parses a PING's TTL and context (RFC 37).
func parsePing(_ *Decoder, c *Command, data []byte, dataSize uint64, _ bool) error {
	// ping = command-size %d4 "PING" ping-ttl ping-context;
	// ping-ttl = 2OCTET; ping-context = 0*16OCTET
	if dataSize < 2 || dataSize > 2+maxPingContext {
		return fmt.Errorf("PING data of %d bytes, RFC 37 wants a 2-octet TTL and 0 to 16 octets of context: %w", dataSize, ErrMalformedCommand)
	}
	c.TTL = binary.BigEndian.Uint16(data)
	c.Context = data[2:len(data):len(data)]
	return nil
}

// parsePong parses a PONG's context (RFC 37).
func parsePong(_ *Decoder, c *Command, _ []byte, dataSize uint64, _ bool) error {
	// pong = command-size %d4 "PONG" ping-context
	if dataSize > maxPingContext {
		return fmt.Errorf("PONG context of %d bytes, RFC 37: it MUST not exceed 16 octets: %w", dataSize, ErrMalformedCommand)
	}
	c.Context = c.Data
	return nil
}

// parseSubscription parses the topic of a SUBSCRIBE or CANCEL (RFC 37).
func parseSubscription(_ *Decoder, c *Command, _ []byte, _ uint64, _ bool) error {
	// subscribe = command-size %d9 "SUBSCRIBE" subscription;
	// subscription = *OCTET
	c.Topic = c.Data
	return nil
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
