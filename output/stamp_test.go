package output

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// TestSecondStamp: the stamps formatted once per second are what
// AppendFormat writes, for times in turn within and across seconds,
// before 1970 and far off, in UTC and in zones of odd offsets.
func TestSecondStamp(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	zones := []*time.Location{time.UTC, time.FixedZone("odd", 5*3600+30*60+17), time.FixedZone("west", -(9*3600 + 59))}
	layouts := []struct {
		cut, full string
		digits    int
	}{
		{"2006-01-02T15:04:05.", "2006-01-02T15:04:05.000000000", 9},
		{"15:04:05.", "15:04:05.000000", 6},
		{"2006-01-02 15:04:05.", "2006-01-02 15:04:05.000000", 6},
	}
	for _, loc := range zones {
		for _, l := range layouts {
			s := secondStamp{layout: l.cut, digits: l.digits, loc: loc}
			base := time.Date(2026, 12, 2, 4, 25, 49, 999_999_000, time.UTC)
			for i := range 20000 {
				var tm time.Time
				switch i % 5 {
				case 0:
					tm = time.Unix(r.Int64N(1<<40)-1<<39, r.Int64N(1e9))
				case 1:
					tm = time.Unix(-r.Int64N(1e6), r.Int64N(1e9))
				default:
					base = base.Add(time.Duration(r.Int64N(2e6)))
					tm = base
				}
				want := tm.In(loc).AppendFormat([]byte("x"), l.full)
				if got := s.append([]byte("x"), tm); string(got) != string(want) {
					t.Fatalf("%s in %s: %q, want %q", tm, loc, got, want)
				}
			}
		}
	}
}

// TestAddrCache: the endpoints' text is theirs, whatever the order in
// which two or more endpoints are asked for.
func TestAddrCache(t *testing.T) {
	aps := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:7001"), netip.MustParseAddrPort("[::1]:40000"),
		netip.MustParseAddrPort("10.0.0.1:1"), {}}
	var c addrCache
	r := rand.New(rand.NewPCG(5, 6))
	for range 10000 {
		ap := aps[r.IntN(len(aps))]
		if got, want := string(c.get(ap)), string(ap.AppendTo(nil)); got != want {
			t.Fatalf("get(%v) = %q, want %q", ap, got, want)
		}
	}
}
