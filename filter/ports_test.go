package filter

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseExpression(t *testing.T) {
	tests := []struct {
		in      string
		want    []uint16
		wantErr error
	}{
		{"", nil, nil},
		{"port 7001", []uint16{7001}, nil},
		{"port 7001 or port 7002", []uint16{7001, 7002}, nil},
		{"tcp port 7001 or port 7001", []uint16{7001}, nil},
		{"  port   9   ", []uint16{9}, nil},
		{"host 127.0.0.1", nil, ErrUnsupported},
		{"port 7001 and port 7002", nil, ErrUnsupported},
		{"port 7001 or", nil, ErrUnsupported},
		{"not port 7001", nil, ErrUnsupported},
		{"port", nil, ErrUnsupported},
		{"port 0", nil, nil},
		{"port 70000", nil, nil},
		{"port x", nil, nil},
	}
	for _, tt := range tests {
		got, err := ParseExpression(tt.in)
		if tt.wantErr != nil || tt.want == nil && tt.in != "" {
			if err == nil {
				t.Errorf("%q: no error, want one", tt.in)
			} else if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("%q: error %v, want %v", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got.List()); diff != "" {
			t.Errorf("%q: (-want +got)\n%s", tt.in, diff)
		}
	}
}

func TestMatch(t *testing.T) {
	p := NewPorts(7001)
	if !p.Match(7001, 40000) || !p.Match(40000, 7001) || p.Match(7002, 40000) {
		t.Error("port set 7001 matches wrongly")
	}
	if !(Ports{}).Match(1, 2) {
		t.Error("the empty set must match everything")
	}
}

func TestParsePortSpec(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []uint16
		ok   bool
	}{
		{"7001", []uint16{7001}, true},
		{"7000-7003", []uint16{7000, 7001, 7002, 7003}, true},
		{"5-5", []uint16{5}, true},
		{"7003-7000", nil, false},
		{"1-70000", nil, false},
		{"-7", nil, false},
		{"7-", nil, false},
		{"a-b", nil, false},
	} {
		got, err := ParsePortSpec(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("%q: error %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if diff := cmp.Diff(tt.want, got); tt.ok && diff != "" {
			t.Errorf("%q: (-want +got)\n%s", tt.in, diff)
		}
	}
}
