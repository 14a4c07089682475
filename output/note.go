package output

import "strconv"

// Note is a plain-English explanation of an event, printed under it in
// learning mode (--explain): what the event means, which stage of the
// connection it belongs to and where the RFCs say so.
type Note struct {
	// Key names the note, e.g. "greeting.split" or "frame.more"; a note is
	// shown once per connection and key unless every note is asked for.
	Key string
	// Stage is the stage of the connection: StageVersion, StageSecurity,
	// StageMetadata, StageMessages or StageTeardown.
	Stage string
	// Text is the explanation, one paragraph.
	Text string
	// Cite names the RFC sections it comes from, e.g. `RFC 23 "Framing"`.
	Cite string
}

// Stages of a ZMTP connection (RFC 23 "Overall Behavior"), as notes name
// them.
const (
	StageVersion  = "version negotiation"
	StageSecurity = "security handshake"
	StageMetadata = "metadata"
	StageMessages = "messages"
	StageTeardown = "teardown"
)

// noteWidth is where text notes wrap.
const noteWidth = 100

// Text prints each note of an event on indented lines under it (after a
// -X dump):
//
//	[messages] This message has 2 frames: ... (RFC 23 "Framing")

// appendNotes appends the pending notes, each on its own wrapped lines
// ending in a newline, and clears them. Whatever a note holds, it prints
// only printable ASCII: any other byte (a control byte a note took from the
// wire unquoted) is escaped as \xNN.
func (p *Text) appendNotes(b []byte) []byte {
	for _, n := range p.notes {
		stage := string(appendPrintable(nil, n.Stage, false))
		b = append(b, "    "...)
		b = p.paint(b, colorBlue)
		b = append(b, '[')
		b = append(b, stage...)
		b = append(b, ']')
		b = p.unpaint(b)
		col := 4 + len(stage) + 2
		text := n.Text
		if n.Cite != "" {
			text += " (" + n.Cite + ")"
		}
		b = appendWrapped(b, string(appendPrintable(nil, text, false)), col, noteWidth, "      ")
		b = append(b, '\n')
	}
	p.notes = nil
	return b
}

// appendWrapped appends text word by word after a space, starting at
// column col, breaking lines before width with indent at their start.
func appendWrapped(b []byte, text string, col, width int, indent string) []byte {
	for len(text) > 0 {
		word := text
		rest := ""
		for i := 0; i < len(text); i++ {
			if text[i] == ' ' {
				word, rest = text[:i], text[i+1:]
				break
			}
		}
		text = rest
		if word == "" {
			continue
		}
		if col+1+len(word) > width && col > len(indent) {
			b = append(b, '\n')
			b = append(b, indent...)
			col = len(indent)
		} else {
			b = append(b, ' ')
			col++
		}
		b = append(b, word...)
		col += len(word)
	}
	return b
}

// JSON adds to an event a "notes" array of {"key", "stage", "text",
// "rfc"} objects.

// appendNotes appends `,"notes":[...]` when notes are pending, and clears
// them.
func (p *JSON) appendNotes(b []byte) []byte {
	if len(p.notes) == 0 {
		return b
	}
	b = append(b, `,"notes":[`...)
	for i, n := range p.notes {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"key":`...)
		b = appendJSONString(b, n.Key)
		b = append(b, `,"stage":`...)
		b = appendJSONString(b, n.Stage)
		b = append(b, `,"text":`...)
		b = appendJSONString(b, n.Text)
		b = append(b, `,"rfc":`...)
		b = appendJSONString(b, n.Cite)
		b = append(b, '}')
	}
	p.notes = nil
	return append(b, ']')
}

// Plural returns "1 byte" or "N bytes" for unit "byte".
func Plural(n uint64, unit string) string {
	s := strconv.FormatUint(n, 10) + " " + unit
	if n != 1 {
		s += "s"
	}
	return s
}
