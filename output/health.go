package output

import (
	"strconv"
	"strings"
	"time"

	"github.com/zmtpdump/zmtpdump/diagnose"
)

// A connection's health figures (diagnose.Health) follow its summary:
//
//	connection closed: ..., 10 messages 40 bytes ->, 10 messages 40 bytes <-, latency p50 1.2ms p99 3.4ms (10 replies), stalled 1.5s, heartbeat every 1s, subscribed to "a" "b"
//	{"event":"connection",...,"latency":{"count":10,"p50_us":1200,...},"heartbeat_interval_ms":1000,"stalled_ms":1500,"subscriptions":["a"]}
//
// Each figure is left out when it is zero (no reply matched, no PING
// interval, no stall, no subscription): a healthy connection that is not
// request/reply prints exactly what it printed before.

// appendHealth appends the text figures of h (nil: none).
func appendHealth(b []byte, h *diagnose.Health) []byte {
	if h == nil {
		return b
	}
	if l := h.Latency; l != nil && l.Count > 0 {
		b = append(b, ", latency p50 "...)
		b = appendDuration(b, l.P50)
		b = append(b, " p99 "...)
		b = appendDuration(b, l.P99)
		b = append(b, " ("...)
		b = strconv.AppendUint(b, l.Count, 10)
		if l.Count == 1 {
			b = append(b, " reply)"...)
		} else {
			b = append(b, " replies)"...)
		}
	}
	if h.Stalled > 0 {
		b = append(b, ", stalled "...)
		b = appendDuration(b, h.Stalled)
	}
	if h.HeartbeatInterval > 0 {
		b = append(b, ", heartbeat every "...)
		b = appendDuration(b, h.HeartbeatInterval)
	}
	if n := len(h.Subscriptions); n > 0 {
		b = append(b, ", subscribed to"...)
		for _, topic := range h.Subscriptions[:min(n, maxTextTopics)] {
			b = append(b, ' ')
			b = AppendQuoted(b, []byte(topic))
		}
		if n > maxTextTopics {
			b = append(b, " and "...)
			b = strconv.AppendInt(b, int64(n-maxTextTopics), 10)
			b = append(b, " more"...)
		}
	}
	return b
}

// maxTextTopics is how many active subscriptions a text connection line
// names (JSON lists them all).
const maxTextTopics = 8

// appendDuration appends d to the microsecond, "1.234ms", "250us": in
// ASCII (time.Duration writes "µs").
func appendDuration(b []byte, d time.Duration) []byte {
	s := d.Round(time.Microsecond).String()
	if strings.HasSuffix(s, "µs") {
		return append(append(b, s[:len(s)-len("µs")]...), "us"...)
	}
	return append(b, s...)
}

// LatencyText says a connection's request/reply latency for people,
// "p50 1.2ms p99 3.4ms (10 replies)", or "" when no reply was matched.
func LatencyText(h *diagnose.Health) string {
	if h == nil || h.Latency == nil || h.Latency.Count == 0 {
		return ""
	}
	return string(appendHealth(nil, &diagnose.Health{Latency: h.Latency})[len(", latency "):])
}

// appendJSONHealth appends the JSON keys of h (nil: none): "latency",
// "heartbeat_interval_ms", "stalled_ms" and "subscriptions", each only
// when not zero or empty.
func appendJSONHealth(b []byte, h *diagnose.Health) []byte {
	if h == nil {
		return b
	}
	if l := h.Latency; l != nil && l.Count > 0 {
		b = append(b, `,"latency":{"count":`...)
		b = strconv.AppendUint(b, l.Count, 10)
		for _, f := range [...]struct {
			key string
			d   time.Duration
		}{{"p50_us", l.P50}, {"p90_us", l.P90}, {"p99_us", l.P99}, {"max_us", l.Max}} {
			b = append(b, ',', '"')
			b = append(b, f.key...)
			b = append(b, '"', ':')
			b = strconv.AppendInt(b, f.d.Microseconds(), 10)
		}
		b = append(b, '}')
	}
	if h.HeartbeatInterval > 0 {
		b = append(b, `,"heartbeat_interval_ms":`...)
		b = strconv.AppendInt(b, h.HeartbeatInterval.Milliseconds(), 10)
	}
	if h.Stalled > 0 {
		b = append(b, `,"stalled_ms":`...)
		b = strconv.AppendInt(b, h.Stalled.Milliseconds(), 10)
	}
	if len(h.Subscriptions) > 0 {
		b = append(b, `,"subscriptions":[`...)
		for i, s := range h.Subscriptions {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s)
		}
		b = append(b, ']')
	}
	return b
}
