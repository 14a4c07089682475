package accuracy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
)

// snap is the -s given to every decode: 64 bytes of each frame body, the
// "first bytes" the harness compares.
const snap = "64"

// event is the part of one JSON Lines event of zmtpdump the harness reads.
type event struct {
	Src    string  `json:"src"`
	Dst    string  `json:"dst"`
	Event  string  `json:"event"`
	Name   string  `json:"name"`
	Offset *int64  `json:"offset"`
	Frames []frame `json:"frames"`
	Bytes  int64   `json:"bytes"`
	Reason string  `json:"reason"`
	Source string  `json:"source"`
}

// frame is one frame of a message event.
type frame struct {
	Size      int64  `json:"size"`
	DataHex   string `json:"data_hex"`
	Truncated bool   `json:"truncated"`
	More      bool   `json:"more"`
}

func (e *event) dir() string { return e.Src + ">" + e.Dst }

// decode runs zmtpdump on the capture file at path and returns its events.
func decode(bin, path string) ([]event, error) {
	cmd := exec.Command(bin, "-r", path, "--json", "-s", snap)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("zmtpdump -r %s: %w (stderr: %q)", path, err, stderr.String())
	}
	var events []event
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 16<<20)
	for line := 1; sc.Scan(); line++ {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("zmtpdump -r %s: line %d: %w", path, line, err)
		}
		events = append(events, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("zmtpdump -r %s: %w", path, err)
	}
	return events, nil
}

// message is one message of the reference decode.
type message struct {
	dir    string
	offset int64 // stream offset of its first frame's flags byte
	end    int64 // one past its last byte
	frames []frame
}

// wireLen is the length on the wire of a ZMTP 3.x message made of frames:
// a flags byte, a 1-byte size (8 bytes past 255, as libzmq writes them),
// the body.
func wireLen(frames []frame) int64 {
	var n int64
	for _, f := range frames {
		n += 1 + 1 + f.Size
		if f.Size > 255 {
			n += 7
		}
	}
	return n
}

// reference is the clean decode of a whole capture.
type reference struct {
	// messages of each direction, by offset.
	messages map[string][]message
	byOffset map[string]map[int64]int // index in messages
	total    int
}

// makeReference collects the messages of a clean decode. It fails on any
// sign of damage (gap, error, resync) and where a message's extent computed
// from its frames is not where the next event of its direction starts.
func makeReference(events []event) (*reference, error) {
	ref := &reference{messages: map[string][]message{}, byOffset: map[string]map[int64]int{}}
	last := map[string]int64{} // where the latest message of each direction ends
	for _, e := range events {
		switch e.Event {
		case "gap", "error", "resync":
			return nil, fmt.Errorf("reference decode has a %s event at offset %v: %s", e.Event, offsetOf(e), e.Reason)
		case "connection":
			continue
		}
		if e.Offset == nil {
			return nil, fmt.Errorf("reference %s event without an offset", e.Event)
		}
		d := e.dir()
		if end, ok := last[d]; ok && end != *e.Offset {
			return nil, fmt.Errorf("%s: a message ends at %d by its frames but the next event (%s) is at %d",
				d, end, e.Event, *e.Offset)
		}
		delete(last, d)
		if e.Event != "message" {
			continue
		}
		if len(e.Frames) == 0 {
			return nil, fmt.Errorf("%s: message at %d has no frames", d, *e.Offset)
		}
		m := message{dir: d, offset: *e.Offset, end: *e.Offset + wireLen(e.Frames), frames: e.Frames}
		if ms := ref.messages[d]; len(ms) > 0 && ms[len(ms)-1].end > m.offset {
			return nil, fmt.Errorf("%s: message at %d overlaps the one before", d, m.offset)
		}
		if ref.byOffset[d] == nil {
			ref.byOffset[d] = map[int64]int{}
		}
		ref.byOffset[d][m.offset] = len(ref.messages[d])
		ref.messages[d] = append(ref.messages[d], m)
		ref.total++
		last[d] = m.end
	}
	return ref, nil
}

// mainDir is the direction that carries the most messages.
func (r *reference) mainDir() string {
	best := ""
	for d, ms := range r.messages {
		if len(ms) > len(r.messages[best]) || len(ms) == len(r.messages[best]) && d < best {
			best = d
		}
	}
	return best
}

// find returns the reference message of dir at offset off with exactly
// frames, if there is one.
func (r *reference) find(dir string, off int64, frames []frame) (int, bool) {
	i, ok := r.byOffset[dir][off]
	if !ok || !slices.Equal(r.messages[dir][i].frames, frames) {
		return 0, false
	}
	return i, true
}

func offsetOf(e event) any {
	if e.Offset == nil {
		return "none"
	}
	return *e.Offset
}
