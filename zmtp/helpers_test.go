package zmtp

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Wire builders for test vectors.

// cat concatenates byte slices into a new one.
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// greeting3 is a 64-byte ZMTP 3.x greeting with zero padding.
func greeting3(major, minor byte, mech string, asServer bool) []byte {
	g := make([]byte, greetingLen)
	g[0], g[9], g[10], g[11] = 0xFF, 0x7F, major, minor
	copy(g[12:32], mech)
	if asServer {
		g[32] = 1
	}
	return g
}

// frame encodes one frame with a short size, or a long one if flags has
// LONG.
func frame(flags byte, body []byte) []byte {
	if flags&flagLong != 0 {
		return cat([]byte{flags}, binary.BigEndian.AppendUint64(nil, uint64(len(body))), body)
	}
	return cat([]byte{flags, byte(len(body))}, body)
}

// command encodes a short command frame.
func command(name string, data []byte) []byte {
	return frame(flagCommand, cat([]byte{byte(len(name))}, []byte(name), data))
}

// meta encodes metadata properties from name, value pairs.
func meta(kv ...string) []byte {
	var b []byte
	for i := 0; i+1 < len(kv); i += 2 {
		b = append(b, byte(len(kv[i])))
		b = append(b, kv[i]...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(kv[i+1])))
		b = append(b, kv[i+1]...)
	}
	return b
}

// Expected-event builders.

func wantGreeting(off uint64, major, minor byte, mech string) *Greeting {
	return &Greeting{Header: Header{Offset: off, Len: greetingLen}, Major: major, Minor: minor, Mechanism: mech}
}

func prop(name, value string) Property { return Property{Name: []byte(name), Value: []byte(value)} }

func fr(size uint64, data string, more bool) Frame {
	return Frame{Size: size, Data: []byte(data), More: more}
}

// Running the decoder.

// result is what a decoder produced for an input.
type result struct {
	Events    []Event
	Offset    uint64
	Err       error
	Searching bool // lost its place, looking for a frame boundary
}

// run feeds the chunks in order to a fresh decoder and returns deep copies
// of the events.
func run(opts Options, chunks ...[]byte) result {
	d := NewDecoder(opts)
	var r result
	emit := func(e Event) { r.Events = append(r.Events, cloneEvent(e)) }
	for _, c := range chunks {
		d.Feed(c, emit)
	}
	r.Offset, r.Err, r.Searching = d.Offset(), d.Err(), d.Searching()
	return r
}

// chunked splits in into pieces of size n (the last may be shorter).
func chunked(in []byte, n int) [][]byte {
	var out [][]byte
	for len(in) > n {
		out = append(out, in[:n])
		in = in[n:]
	}
	return append(out, in)
}

// cloneEvent deep-copies an event so it outlives the emit call.
func cloneEvent(e Event) Event {
	switch e := e.(type) {
	case *Greeting:
		c := *e
		return &c
	case *Command:
		c := *e
		c.Data = cloneBytes(e.Data)
		c.Reason = cloneBytes(e.Reason)
		c.Context = cloneBytes(e.Context)
		c.Topic = cloneBytes(e.Topic)
		c.Username = cloneBytes(e.Username)
		c.Password = cloneBytes(e.Password)
		c.Key = cloneBytes(e.Key)
		c.Cookie = cloneBytes(e.Cookie)
		c.Nonce = cloneBytes(e.Nonce)
		c.Properties = nil
		for _, p := range e.Properties {
			c.Properties = append(c.Properties, Property{Name: cloneBytes(p.Name), Value: cloneBytes(p.Value)})
		}
		return &c
	case *Message:
		c := *e
		c.Topic = cloneBytes(e.Topic)
		c.Nonce = cloneBytes(e.Nonce)
		c.Frames = nil
		for _, f := range e.Frames {
			f.Data = cloneBytes(f.Data)
			c.Frames = append(c.Frames, f)
		}
		return &c
	case *Identity:
		c := *e
		c.Data = cloneBytes(e.Data)
		return &c
	case *Connection:
		c := *e
		for i := range c.Sides {
			c.Sides[i].Identity = cloneBytes(e.Sides[i].Identity)
		}
		return &c
	case *Gap:
		c := *e
		return &c
	case *Resync:
		c := *e
		return &c
	case *Error:
		c := *e
		return &c
	}
	panic("unknown event type")
}

// cloneBytes copies b, keeping nil as nil.
func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// cmpOpts compares events: nil and empty slices are equal, errors are
// equal when they have the same text, greeting signatures are left to
// TestSignature (the vectors' padding bytes differ), a command's
// mechanism to TestCommandMechanism and its kind to TestCommandKinds.
var cmpOpts = cmp.Options{
	cmpopts.EquateEmpty(),
	cmpopts.IgnoreFields(Greeting{}, "Signature"),
	cmpopts.IgnoreFields(Command{}, "Mechanism", "Kind"),
	cmp.Comparer(func(a, b error) bool {
		if a == nil || b == nil {
			return a == b
		}
		return a.Error() == b.Error()
	}),
}

// diffResults reports how got differs from want.
func diffResults(t *testing.T, what string, want, got result) {
	t.Helper()
	if reflect.DeepEqual(want, got) { // fast path: clones hold nil, never empty, slices
		return
	}
	if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
		t.Errorf("%s: result differs from one Feed (-one Feed +%s):\n%s", what, what, diff)
	}
}
