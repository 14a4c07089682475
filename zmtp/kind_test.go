package zmtp

import "testing"

// TestCommandKinds checks that the decoder sets Kind from the name, exactly
// as sent, and that each kind's String is its wire name.
func TestCommandKinds(t *testing.T) {
	ping := cat([]byte{0, 10}, []byte("ctx"))
	for _, tc := range []struct {
		name string
		data []byte
		want CommandKind
	}{
		{"READY", meta("Socket-Type", "PUSH"), KindReady},
		{"ERROR", cat([]byte{3}, []byte("bad")), KindError},
		{"SUBSCRIBE", []byte("topic"), KindSubscribe},
		{"CANCEL", []byte("topic"), KindCancel},
		{"PING", ping, KindPing},
		{"PONG", []byte("ctx"), KindPong},
		{"HELLO", nil, KindHello},
		{"WELCOME", nil, KindWelcome},
		{"INITIATE", nil, KindInitiate},
		{"MESSAGE", nil, KindMessage},
		{"JOIN", []byte("group"), KindJoin},
		{"LEAVE", []byte("group"), KindLeave},
		{"X-WEIRD", nil, KindUnknown},
		{"ping", ping, KindUnknown},
	} {
		r := run(Options{}, greeting3(3, 1, "NULL", false), command(tc.name, tc.data))
		if len(r.Events) != 2 || r.Err != nil {
			t.Fatalf("%s: events %v, error %v", tc.name, r.Events, r.Err)
		}
		c, ok := r.Events[1].(*Command)
		if !ok {
			t.Fatalf("%s: event %T, want a command", tc.name, r.Events[1])
		}
		if c.Kind != tc.want || c.Name != tc.name {
			t.Errorf("%s: kind %v name %q, want %v", tc.name, c.Kind, c.Name, tc.want)
		}
		if tc.want != KindUnknown && tc.want.String() != tc.name {
			t.Errorf("%v.String() = %q, want %q", tc.want, tc.want.String(), tc.name)
		}
	}
	if s := CommandKind(200).String(); s != "unknown" {
		t.Errorf("out of range kind: %q", s)
	}
}
