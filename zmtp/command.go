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
	if room := d.opts.MaxCommand - len(d.cmdBuf); room > 0 {
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
		d.fail(off, fmt.Errorf("command at offset %d has an empty name: %w", off, ErrMalformedCommand), emit)
		return
	}
	if uint64(1+nameLen) > d.size {
		d.fail(off, fmt.Errorf("command name length %d at offset %d overruns the %d-byte body: %w",
			nameLen, off, d.size, ErrMalformedCommand), emit)
		return
	}
	// The name fits in body: MaxCommand >= 256.
	data := body[1+nameLen:]
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
	}
	var err error
	switch c.Name {
	case "READY", "INITIATE":
		if d.clearMeta {
			c.Properties, err = d.parseMetadata(data, truncated)
		}
	case "ERROR":
		c.Reason, err = parseReason(data, truncated)
	}
	if err != nil {
		d.fail(off, fmt.Errorf("%s command at offset %d: %w", c.Name, off, err), emit)
		return
	}
	emit(c)
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
