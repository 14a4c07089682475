package livetest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
)

// Stats are zmtpdump's exit statistics of a live capture, as the JSON
// object {"event":"stats",...} it prints last on stdout with --json and
// writes to the file --stats-file names. Each field is one key; the
// comment quotes the line of the text statistics (stderr) it counts.
type Stats struct {
	PacketsCaptured    uint64 `json:"packets_captured"`    // N packets captured
	PacketsMatched     uint64 `json:"packets_matched"`     // N packets matched in the kernel
	RingDrops          uint64 `json:"ring_drops"`          // N packets dropped by kernel (ring buffer full)
	Events             uint64 `json:"events"`              // N ZMTP events decoded
	Messages           uint64 `json:"messages"`            // ZMTP messages decoded
	Connections        uint64 `json:"connections"`         // N connections
	BytesReassembled   uint64 `json:"bytes_reassembled"`   // N bytes reassembled
	OutOfOrder         uint64 `json:"out_of_order"`        // N segments out of order
	Retransmitted      uint64 `json:"retransmitted"`       // N retransmitted
	Gaps               uint64 `json:"gaps"`                // N gaps
	BytesLost          uint64 `json:"bytes_lost"`          // (N bytes lost)
	BytesNotCaptured   uint64 `json:"bytes_not_captured"`  // N bytes not captured (snap)
	PacketsCut         uint64 `json:"packets_cut"`         // N packets cut in the kernel
	PacketsUnreadable  uint64 `json:"packets_unreadable"`  // N unreadable there
	PacketsNotParsed   uint64 `json:"packets_not_parsed"`  // N not parsed
	KernelFraming      bool   `json:"kernel_framing"`      // whether the kernel framed (the next four count then)
	RingBytes          uint64 `json:"ring_bytes"`          // N bytes through the ring buffer
	BytesElided        uint64 `json:"bytes_elided"`        // N payload bytes left out by kernel framing
	DirectionsUnframed uint64 `json:"directions_unframed"` // N connection directions not followed
	Joined             uint64 `json:"joined"`              // N joined mid-stream
	RSTIgnored         uint64 `json:"rst_ignored"`         // N RSTs ... outside the TCP window ignored
	FINIgnored         uint64 `json:"fin_ignored"`         // N FINs outside the TCP window ignored
	AcksIgnored        uint64 `json:"acks_ignored"`        // N acknowledgments of bytes never seen ignored
	Duplicates         uint64 `json:"duplicates"`          // N packets seen twice
	InterfacesAdded    uint64 `json:"interfaces_added"`    // N interfaces added
	InterfacesRemoved  uint64 `json:"interfaces_removed"`  // N removed
	// The keys only an ipc:// capture (--ipc) writes: IPC reports them
	// present. StatsKeys leaves them out (they are optional).
	IPC            bool   `json:"-"`
	IPCConnections uint64 `json:"ipc_connections,omitempty"`
	IPCRecords     uint64 `json:"ipc_records,omitempty"`
	IPCLost        uint64 `json:"ipc_lost,omitempty"`
	IPCCut         uint64 `json:"ipc_cut,omitempty"`
	IPCMissed      uint64 `json:"ipc_missed,omitempty"`
	IPCUnreadable  uint64 `json:"ipc_unreadable,omitempty"`
	IPCOnly        bool   `json:"ipc_only,omitempty"`
}

// StatsEvent is the "event" value of the statistics line.
const StatsEvent = "stats"

// ErrNoStats says that there was no statistics line where one was looked
// for.
var ErrNoStats = errors.New("no exit statistics")

// IsStatsLine reports whether a line of JSON Lines output is the exit
// statistics line (it holds "event":"stats"; ParseStats decodes it).
func IsStatsLine(line []byte) bool { return bytes.Contains(line, []byte(`"event":"`+StatsEvent+`"`)) }

// ParseStats decodes one statistics object. Every key of Stats must be
// there (keys it does not know are allowed), and "event" must be "stats".
func ParseStats(line []byte) (Stats, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(line, &fields); err != nil {
		return Stats{}, fmt.Errorf("exit statistics %.80q: %w", line, err)
	}
	var ev string
	if err := json.Unmarshal(fields["event"], &ev); err != nil || ev != StatsEvent {
		return Stats{}, fmt.Errorf("exit statistics %.80q: \"event\" is not %q: %w", line, StatsEvent, ErrNoStats)
	}
	var missing []string
	for _, k := range StatsKeys() {
		if _, ok := fields[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return Stats{}, fmt.Errorf("exit statistics %.80q lack %s", line, strings.Join(missing, ", "))
	}
	var st Stats
	if err := json.Unmarshal(line, &st); err != nil {
		return Stats{}, fmt.Errorf("exit statistics %.80q: %w", line, err)
	}
	_, st.IPC = fields["ipc_connections"]
	return st, nil
}

// StatsKeys returns the JSON keys of Stats, in order ("event" left out).
func StatsKeys() []string {
	t := reflect.TypeFor[Stats]()
	keys := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		name, opt, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "-" || opt == "omitempty" {
			continue // optional
		}
		keys = append(keys, name)
	}
	return keys
}

// ReadStats reads JSON Lines (zmtpdump --json's stdout, or a --stats-file)
// and decodes the last statistics line. Other lines are skipped, however
// long; without a statistics line the error wraps ErrNoStats.
func ReadStats(r io.Reader) (Stats, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var last []byte
	for {
		line, err := br.ReadSlice('\n')
		head := line
		for err == bufio.ErrBufferFull {
			// A long line (a large message's event): only its
			// start can say it is the statistics line.
			line = nil
			_, err = br.ReadSlice('\n')
		}
		if line != nil && IsStatsLine(head) {
			last = append(last[:0], bytes.TrimSpace(line)...)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return Stats{}, fmt.Errorf("read exit statistics: %w", err)
		}
	}
	if last == nil {
		return Stats{}, ErrNoStats
	}
	return ParseStats(last)
}

// ReadStatsFile reads the statistics a zmtpdump wrote to path with
// --stats-file: one JSON object (on one line or several), or JSON Lines
// whose last statistics line counts.
func ReadStatsFile(path string) (Stats, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Stats{}, fmt.Errorf("read exit statistics: %w", err)
	}
	var st Stats
	if whole := bytes.TrimSpace(data); json.Valid(whole) {
		st, err = ParseStats(whole)
	} else {
		st, err = ReadStats(bytes.NewReader(data))
	}
	if err != nil {
		return Stats{}, fmt.Errorf("%s: %w", path, err)
	}
	return st, nil
}

// MustStats returns d's exit statistics (see Dump.Stats), or ends the test
// quoting d's stderr.
func MustStats(tb TB, d *Dump) Stats {
	tb.Helper()
	st, err := d.Stats()
	if err != nil {
		tb.Fatalf("exit statistics: %v\nstderr: %s", err, d.Stderr.String())
	}
	return st
}
