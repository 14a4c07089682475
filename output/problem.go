package output

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/zmtpdump/zmtpdump/diagnose"
)

// A problem (package diagnose) is printed as an event:
//
//	12:13:35.585001 127.0.0.1:47563 > 127.0.0.1:7001: problem: connect-refused: reconnect loop: ... (attempts=45 rate=30)
//	{"ts":...,"src":...,"dst":...,"event":"problem","kind":"connect-refused","text":"...","attempts":45,...}
//
// Its text and every string field are escaped as every text taken from
// the wire is: no byte of it reaches a terminal raw, none breaks a JSON
// line. Durations are Go durations in text ("1.5s", in ASCII: "250us"),
// and in JSON integers of microseconds under the field's key with "_us"
// appended ("duration_us").

// appendProblem appends the text of a problem after the line's head.
func (p *Text) appendProblem(b []byte, pr *diagnose.Problem) []byte {
	b = p.paint(b, colorRed)
	b = append(b, "problem: "...)
	b = AppendEscaped(b, pr.Kind.String())
	b = append(b, ": "...)
	// The text is ours, its wire bytes already escaped by diagnose (\xNN):
	// the last guard keeps any control byte off the terminal without
	// doubling those escapes' backslashes.
	b = appendPrintable(b, pr.Text, false)
	b = p.unpaint(b)
	if len(pr.Fields) == 0 {
		return b
	}
	b = append(b, " ("...)
	for i, f := range pr.Fields {
		if i > 0 {
			b = append(b, ' ')
		}
		b = AppendToken(b, []byte(f.Key))
		b = append(b, '=')
		b = appendTextValue(b, f.Value)
	}
	return append(b, ')')
}

// appendTextValue appends a field's value for text: strings as tokens
// (quoted when they hold a space or anything else unsafe).
func appendTextValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return AppendToken(b, []byte(x))
	case int64:
		return strconv.AppendInt(b, x, 10)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case uint64:
		return strconv.AppendUint(b, x, 10)
	case float64:
		return strconv.AppendFloat(b, x, 'f', -1, 64)
	case bool:
		return strconv.AppendBool(b, x)
	case time.Duration:
		return appendDuration(b, x)
	case nil:
		return append(b, `""`...)
	}
	return append(b, '?')
}

// appendJSONProblem appends the keys of a problem event after its head.
func appendJSONProblem(b []byte, pr *diagnose.Problem) []byte {
	b = append(b, `,"kind":`...)
	b = appendJSONString(b, pr.Kind.String())
	b = append(b, `,"text":`...)
	b = appendJSONString(b, pr.Text)
	for _, f := range pr.Fields {
		if reservedProblemKey(f.Key) {
			continue // never two members of one name
		}
		b = append(b, ',')
		if _, ok := f.Value.(time.Duration); ok {
			b = appendJSONString(b, f.Key+"_us") // says its unit
		} else {
			b = appendJSONString(b, f.Key)
		}
		b = append(b, ':')
		b = appendJSONValue(b, f.Value)
	}
	return b
}

// reservedProblemKey reports the keys every problem event has already.
func reservedProblemKey(k string) bool {
	switch k {
	case "ts", "src", "dst", "event", "kind", "text", "process", "notes", "offset":
		return true
	}
	return false
}

// appendJSONValue appends a field's value as JSON.
func appendJSONValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return appendJSONString(b, x)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case uint64:
		return strconv.AppendUint(b, x, 10)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return append(b, "null"...) // NaN, Inf: no JSON number
		}
		return strconv.AppendFloat(b, x, 'f', -1, 64)
	case bool:
		return strconv.AppendBool(b, x)
	case time.Duration:
		return strconv.AppendInt(b, x.Microseconds(), 10)
	}
	return append(b, "null"...)
}

// WriteProblemsText writes the exit summary of problems for people, one
// line, "problems: 2 auth-failed (1 connection: c > s), 1 stalled (...)",
// nothing when kinds is empty.
func WriteProblemsText(w io.Writer, kinds []diagnose.KindCount) error {
	if len(kinds) == 0 {
		return nil
	}
	b := append([]byte(nil), "problems:"...)
	for i, k := range kinds {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, ' ')
		b = strconv.AppendUint(b, k.Count, 10)
		b = append(b, ' ')
		b = AppendEscaped(b, k.Kind.String())
		n := uint64(len(k.Connections))
		b = append(b, " ("...)
		b = append(b, Plural(n, "connection")...)
		for j, c := range k.Connections {
			if j == 0 {
				b = append(b, ": "...)
			} else {
				b = append(b, ", "...)
			}
			b = appendTouched(b, c)
		}
		if k.More > 0 {
			b = fmt.Appendf(b, ", and %s on connections not named", Plural(k.More, "more problem"))
		}
		b = append(b, ')')
	}
	b = append(b, '\n')
	_, err := w.Write(b)
	return err
}

// AppendProblemsJSON appends the exit summary of problems as one JSON
// object, without a newline: {"event":"problems","by_kind":{"auth-failed":
// {"count":2,"connections":["c > s"]}}} ("more": problems on connections
// not named, when any). It appends nothing when kinds is empty.
func AppendProblemsJSON(b []byte, kinds []diagnose.KindCount) []byte {
	if len(kinds) == 0 {
		return b
	}
	b = append(b, `{"event":"problems","by_kind":{`...)
	for i, k := range kinds {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k.Kind.String())
		b = append(b, `:{"count":`...)
		b = strconv.AppendUint(b, k.Count, 10)
		b = append(b, `,"connections":[`...)
		for j, c := range k.Connections {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, string(appendTouched(nil, c)))
		}
		b = append(b, ']')
		if k.More > 0 {
			b = append(b, `,"more":`...)
			b = strconv.AppendUint(b, k.More, 10)
		}
		b = append(b, '}')
	}
	return append(b, '}', '}')
}

// appendTouched appends "client > server", each end by its name if it has
// one (EndName's, printable already: any other byte is escaped as \xNN,
// backslashes kept), else by its address.
func appendTouched(b []byte, c diagnose.Touched) []byte {
	if c.ClientName == "" {
		b = c.Client.AppendTo(b)
	} else {
		b = appendPrintable(b, c.ClientName, false)
	}
	b = append(b, " > "...)
	if c.ServerName == "" {
		return c.Server.AppendTo(b)
	}
	return appendPrintable(b, c.ServerName, false)
}

// Problems implements Printer: the summary for people, on Options.Stderr.
// As the statistics, it is a courtesy: a closed or full stderr fails
// nothing.
func (p *Text) Problems(kinds []diagnose.KindCount) error {
	if p.stderr != nil {
		_ = WriteProblemsText(p.stderr, kinds)
	}
	return nil
}

// Problems implements Printer: the summary for people on Options.Stderr,
// then a line {"event":"problems",...} (see AppendProblemsJSON).
func (p *JSON) Problems(kinds []diagnose.KindCount) error {
	if len(kinds) == 0 {
		return nil
	}
	if p.stderr != nil {
		_ = WriteProblemsText(p.stderr, kinds)
	}
	return p.w.end(append(AppendProblemsJSON(p.w.start(), kinds), '\n'))
}
