package zmtp

import (
	"errors"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtpdump/zmtpdump/segment"
)

// step is one Feed call of a Conn test.
type step struct {
	dir segment.Dir
	in  []byte
}

// dirEvent is an event with its direction.
type dirEvent struct {
	Dir segment.Dir
	Ev  Event
}

// runConn feeds the steps to a fresh Conn, closes it and returns deep
// copies of the events.
func runConn(opts Options, steps ...step) []dirEvent {
	c := NewConn(opts)
	var got []dirEvent
	emit := func(d segment.Dir, e Event) { got = append(got, dirEvent{d, cloneEvent(e)}) }
	for _, s := range steps {
		c.Feed(s.dir, s.in, emit)
	}
	c.Close(segment.Finished, emit)
	return got
}

// bytewise splits every step into one-byte steps.
func bytewise(steps []step) []step {
	var out []step
	for _, s := range steps {
		for _, c := range chunked(s.in, 1) {
			out = append(out, step{s.dir, c})
		}
	}
	return out
}

var connCmpOpts = append(cmpOpts, cmp.Comparer(func(a, b Side) bool { return cmp.Equal(a, b, cmpOpts) }))

// byDir splits events by direction: how the two directions interleave
// depends on how they were cut, the order within each does not.
func byDir(evs []dirEvent) [2][]Event {
	var out [2][]Event
	for _, e := range evs {
		out[e.Dir] = append(out[e.Dir], e.Ev)
	}
	return out
}

func TestConn(t *testing.T) {
	const c2s, s2c = segment.ClientToServer, segment.ServerToClient
	sig1 := hx("ff 00 00 00 00 00 00 00 01 7f") // libzmq: identity length 0, + 1
	pullReady := command("READY", meta("Socket-Type", "PULL", "Identity", "srv"))
	tests := []struct {
		name  string
		steps []step
		want  []dirEvent
	}{
		{
			name: "libzmq 3.x client downgrades to a 2.0 server",
			steps: []step{
				{c2s, sig1}, {s2c, sig1}, {c2s, hx("03")}, {s2c, hx("01 07 00 00")},
				{c2s, cat(hx("08"), hx("00 00"), pushOne)},
			},
			want: []dirEvent{
				{s2c, &Greeting{Header: Header{Len: 12}, Major: 2, Revision: 1, Mechanism: "NULL", SocketType: "PULL"}},
				{s2c, &Identity{Header: Header{Offset: 12, Len: 2}, Data: []byte{}}},
				{c2s, &Greeting{Header: Header{Len: 12}, Major: 2, Revision: 3, Downgraded: true, Mechanism: "NULL", SocketType: "PUSH"}},
				{c2s, &Identity{Header: Header{Offset: 12, Len: 2}, Data: []byte{}}},
				{c2s, msgOf(14, 3, fr(1, "1", false))},
				{c2s, &Connection{End: segment.Finished, Sides: [2]Side{
					{Greeted: true, Major: 2, Downgraded: true, Mechanism: "NULL", SocketType: "PUSH", Identity: []byte{}, Messages: 1, MessageBytes: 1, StreamBytes: 17},
					{Greeted: true, Major: 2, Mechanism: "NULL", SocketType: "PULL", Identity: []byte{}, StreamBytes: 14},
				}}},
			},
		},
		{
			name: "client waits for the server's version, then downgrades to 2.0",
			steps: []step{
				{c2s, cat(sig1, hx("03 08 00 00"), pushOne)},
				{s2c, cat(sig1, hx("01 07 00 00"))},
			},
			want: []dirEvent{
				{s2c, &Greeting{Header: Header{Len: 12}, Major: 2, Revision: 1, Mechanism: "NULL", SocketType: "PULL"}},
				{s2c, &Identity{Header: Header{Offset: 12, Len: 2}}},
				{c2s, &Greeting{Header: Header{Len: 12}, Major: 2, Revision: 3, Downgraded: true, Mechanism: "NULL", SocketType: "PUSH"}},
				{c2s, &Identity{Header: Header{Offset: 12, Len: 2}}},
				{c2s, msgOf(14, 3, fr(1, "1", false))},
				{c2s, &Connection{End: segment.Finished, Sides: [2]Side{
					{Greeted: true, Major: 2, Downgraded: true, Mechanism: "NULL", SocketType: "PUSH", Messages: 1, MessageBytes: 1, StreamBytes: 17},
					{Greeted: true, Major: 2, Mechanism: "NULL", SocketType: "PULL", StreamBytes: 14},
				}}},
			},
		},
		{
			name: "3.x client downgrades to a 1.0 server: its signature heads the identity frame",
			steps: []step{
				{c2s, sig1}, {s2c, hx("01 00")}, {c2s, hx("02 00 31")}, {s2c, hx("02 00 61")},
			},
			want: []dirEvent{
				{s2c, &Greeting{Major: 1, Mechanism: "NULL"}},
				{s2c, &Identity{Header: Header{Len: 2}}},
				{c2s, &Greeting{Major: 1, Downgraded: true, Mechanism: "NULL"}},
				{c2s, &Identity{Header: Header{Len: 10}}},
				{c2s, msgOf(10, 3, fr(1, "1", false))},
				{s2c, msgOf(2, 3, fr(1, "a", false))},
				{c2s, &Connection{End: segment.Finished, Sides: [2]Side{
					{Greeted: true, Major: 1, Downgraded: true, Mechanism: "NULL", Messages: 1, MessageBytes: 1, StreamBytes: 13},
					{Greeted: true, Major: 1, Mechanism: "NULL", Messages: 1, MessageBytes: 1, StreamBytes: 5},
				}}},
			},
		},
		{
			name: "3.1 NULL both ways, libzmq order",
			steps: []step{
				{c2s, pushSignature}, {s2c, pushSignature}, {c2s, pushMajor}, {s2c, pushMajor},
				{c2s, pushRest}, {s2c, pushRest}, {s2c, pullReady}, {c2s, cat(pushReady, pushOne)},
			},
			want: []dirEvent{
				{c2s, wantGreeting(0, 3, 1, "NULL")},
				{s2c, wantGreeting(0, 3, 1, "NULL")},
				{s2c, &Command{Header: Header{Offset: 64, Len: uint64(len(pullReady))}, Name: "READY", Size: uint64(len(pullReady) - 2), Data: pullReady[8:],
					Properties: []Property{prop("Socket-Type", "PULL"), prop("Identity", "srv")}}},
				{c2s, pushEvents()[1]},
				{c2s, pushEvents()[2]},
				{c2s, &Connection{End: segment.Finished, Sides: [2]Side{
					{Greeted: true, Major: 3, Minor: 1, Mechanism: "NULL", SocketType: "PUSH", Messages: 1, MessageBytes: 1, Commands: 1, StreamBytes: 95},
					{Greeted: true, Major: 3, Minor: 1, Mechanism: "NULL", SocketType: "PULL", Identity: []byte("srv"), Commands: 1, StreamBytes: uint64(64 + len(pullReady))},
				}}},
			},
		},
		{
			name: "full greeting at once decides without the peer",
			steps: []step{
				{c2s, prefix(pushOne)},
			},
			want: []dirEvent{
				{c2s, pushEvents()[0]}, {c2s, pushEvents()[1]}, {c2s, pushEvents()[2]},
				{c2s, &Connection{End: segment.Finished, Sides: [2]Side{
					{Greeted: true, Major: 3, Minor: 1, Mechanism: "NULL", SocketType: "PUSH", Messages: 1, MessageBytes: 1, Commands: 1, StreamBytes: 95},
					{},
				}}},
			},
		},
		{
			name: "Close decides for a direction still waiting",
			steps: []step{
				{c2s, cat(sig1, hx("01 08 00 00"))},
			},
			want: []dirEvent{
				{c2s, &Greeting{Header: Header{Len: 12}, Major: 2, Revision: 1, Mechanism: "NULL", SocketType: "PUSH"}},
				{c2s, &Identity{Header: Header{Offset: 12, Len: 2}}},
				{c2s, &Connection{End: segment.Finished, Sides: [2]Side{
					{Greeted: true, Major: 2, Mechanism: "NULL", SocketType: "PUSH", StreamBytes: 14},
					{},
				}}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := runConn(Options{}, tc.steps...)
			if diff := cmp.Diff(tc.want, got, connCmpOpts); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(byDir(got), byDir(runConn(Options{}, bytewise(tc.steps)...)), connCmpOpts); diff != "" {
				t.Errorf("bytewise differs (-whole +bytewise):\n%s", diff)
			}
		})
	}
}

func TestConnMechanismMismatch(t *testing.T) {
	got := runConn(Options{},
		step{segment.ClientToServer, greeting3(3, 1, "NULL", false)},
		step{segment.ServerToClient, cat(greeting3(3, 1, "PLAIN", false), pushOne)},
	)
	if len(got) != 4 {
		t.Fatalf("%d events, want greeting, greeting, error, connection: %v", len(got), got)
	}
	e, ok := got[2].Ev.(*Error)
	if !ok || got[2].Dir != segment.ServerToClient || !errors.Is(e.Err, ErrMechanismMismatch) || e.Offset != 12 {
		t.Fatalf("third event %v, want a mechanism mismatch at offset 12 from the server", got[2])
	}
	if c := got[3].Ev.(*Connection); !errors.Is(c.Sides[1].Err, ErrMechanismMismatch) || c.Sides[1].StreamBytes != 67 {
		t.Errorf("summary %+v", c.Sides[1])
	}
}

func TestConnStop(t *testing.T) {
	stop := errors.New("mid-stream")
	c := NewConn(Options{})
	var got []dirEvent
	emit := func(d segment.Dir, e Event) { got = append(got, dirEvent{d, cloneEvent(e)}) }
	// The client waits for the server's version; the server stops: the
	// client decides alone.
	c.Feed(segment.ClientToServer, cat(pushSignature, pushMajor), emit)
	c.Stop(segment.ServerToClient, stop, emit)
	c.Feed(segment.ServerToClient, pushOne, emit)
	c.Feed(segment.ClientToServer, cat(pushRest, pushReady), emit)
	if len(got) != 3 {
		t.Fatalf("got %d events, want error, greeting, READY: %+v", len(got), got)
	}
	if e, ok := got[0].Ev.(*Error); !ok || e.Err != stop || got[0].Dir != segment.ServerToClient {
		t.Errorf("first event %+v, want the stop error", got[0])
	}
	if c.Decoder(segment.ServerToClient).Offset() != 3 {
		t.Errorf("stopped direction offset %d, want 3", c.Decoder(segment.ServerToClient).Offset())
	}
}

// TestConnZeroAllocs checks that a Conn adds no allocation per message.
func TestConnZeroAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation changes allocations")
	}
	if raceEnabled {
		t.Skip("the race detector drops sync.Pool items: decoders may allocate their work")
	}
	c := NewConn(Options{})
	emit := func(segment.Dir, Event) {}
	c.Feed(segment.ClientToServer, prefix(pushOne), emit)
	c.Feed(segment.ServerToClient, prefix(pushOne), emit)
	multipart := cat(pushHello, pushLong)
	if n := testing.AllocsPerRun(100, func() {
		c.Feed(segment.ClientToServer, pushOne, emit)
		c.Feed(segment.ServerToClient, multipart, emit)
	}); n != 0 {
		t.Errorf("%v allocations per Feed, want 0", n)
	}
}

// FuzzConn feeds two interleaved directions: no panic, every byte counted,
// events within their direction's bytes, a summary last, and the same
// events whether each step is fed whole or byte by byte. The first byte
// sets the chunk size, the second where the input splits between the
// directions.
func FuzzConn(f *testing.F) {
	sig1 := hx("ff 00 00 00 00 00 00 00 01 7f")
	f.Add(cat([]byte{3, 10}, sig1, hx("03 08 00 00"), pushOne, sig1, hx("01 07 00 00")))
	f.Add(cat([]byte{5, 13}, sig1, hx("02 00 31"), hx("01 00 02 00 61")))
	f.Add(cat([]byte{7, 95}, prefix(pushOne), prefix(pushHello, pushLong)))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		chunk, split, in := int(data[0])%32+1, int(data[1]), data[2:]
		split = min(split, len(in))
		a, b := in[:split], in[split:]
		var steps []step
		ca, cb := chunked(a, chunk), chunked(b, chunk)
		for i := 0; i < max(len(ca), len(cb)); i++ {
			if i < len(ca) {
				steps = append(steps, step{segment.ClientToServer, ca[i]})
			}
			if i < len(cb) {
				steps = append(steps, step{segment.ServerToClient, cb[i]})
			}
		}
		got := runConn(fuzzOptions, steps...)
		sum, ok := got[len(got)-1].Ev.(*Connection)
		if !ok {
			t.Fatalf("last event %T, want *Connection", got[len(got)-1].Ev)
		}
		if sum.Sides[0].StreamBytes != uint64(len(a)) || sum.Sides[1].StreamBytes != uint64(len(b)) {
			t.Errorf("stream bytes %d, %d, want %d, %d", sum.Sides[0].StreamBytes, sum.Sides[1].StreamBytes, len(a), len(b))
		}
		var per [2]result
		for _, e := range got[:len(got)-1] {
			per[e.Dir].Events = append(per[e.Dir].Events, e.Ev)
		}
		for d, n := range []int{len(a), len(b)} {
			per[d].Offset, per[d].Err = uint64(n), sum.Sides[d].Err
			checkBounds(t, per[d], fuzzOptions.withDefaults(), uint64(n))
		}
		whole, cut := byDir(got), byDir(runConn(fuzzOptions, bytewise(steps)...))
		if reflect.DeepEqual(whole, cut) {
			return
		}
		if diff := cmp.Diff(whole, cut, connCmpOpts); diff != "" {
			t.Errorf("bytewise differs (-chunked +bytewise):\n%s", diff)
		}
	})
}
