package learn

import (
	"errors"
	"strings"

	"github.com/zmtpdump/zmtpdump/diagnose"
	"github.com/zmtpdump/zmtpdump/output"
	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// An Explainer says, in notes, what the events of one connection mean
// (--explain). It follows the connection (versions, mechanism, socket
// types, how the greetings were cut into segments) and shows each note once
// per connection unless it was made with all set. Its memory is fixed: a
// bit per note key and a little per side. It is not safe for concurrent
// use; one Explainer serves one connection.
type Explainer struct {
	all   bool
	shown uint64 // one bit per noteKey
	// problems has one bit per diagnose.Kind whose note was shown.
	problems uint32
	sides    [2]explainSide
	notes    []output.Note
	ipc      bool // an ipc:// connection: sends, not TCP segments (SetIPC)
}

// explainSide is what one side of the connection said so far.
type explainSide struct {
	greeted      bool
	major, minor uint8
	mech         string
	sockType     string
	identity     string // Identity property or identity frame, at most 255 bytes
	hasIdentity  bool
	hello        bool // sent a HELLO
	done         bool // finished its handshake (READY, INITIATE) or sent a message
	identified   bool // sent its 1.0/2.0 identity frame
	fed          int  // greeting-area bytes seen, up to greetingSize
	pieces       [maxPieces]int
	npieces      int
	piecesLost   bool // a gap hit the greeting area: pieces unknown
	moreThanMax  bool // more than maxPieces pieces
	subscriber31 bool
}

const (
	greetingSize = 64
	maxPieces    = 8
)

// NewExplainer returns an Explainer for one connection; with all set it
// repeats every note each time it applies.
func NewExplainer(all bool) *Explainer { return &Explainer{all: all} }

// SetIPC says that the connection is an ipc:// one (a Unix stream socket):
// the notes then speak of sends and closed sockets, not of TCP segments
// and FINs.
func (x *Explainer) SetIPC(ipc bool) { x.ipc = ipc }

func sideIndex(from segment.Dir) int {
	if from == segment.ServerToClient {
		return 1
	}
	return 0
}

// Data records that n bytes sent by from arrived in one TCP segment (one
// send over ipc), to
// tell how a greeting was cut (call it before the events those bytes
// complete).
func (x *Explainer) Data(from segment.Dir, n int) {
	s := &x.sides[sideIndex(from)]
	if s.fed >= greetingSize || n <= 0 {
		return
	}
	n = min(n, greetingSize-s.fed)
	s.fed += n
	if s.npieces == maxPieces {
		s.moreThanMax = true
		return
	}
	s.pieces[s.npieces] = n
	s.npieces++
}

// Skip records that n bytes sent by from, following those of the last
// Data call, were not captured (a payload cut short by the capture). They
// are no loss and make no segment of their own: they only move the greeting
// area's offsets on.
func (x *Explainer) Skip(from segment.Dir, n uint64) {
	s := &x.sides[sideIndex(from)]
	s.fed = int(min(uint64(greetingSize), uint64(s.fed)+n))
}

// Gap records that n bytes sent by from were lost and returns the notes
// that explain it. The slice is valid until the next call.
func (x *Explainer) Gap(from segment.Dir, n uint64) []output.Note {
	s := &x.sides[sideIndex(from)]
	if s.fed < greetingSize {
		s.piecesLost = true
		s.fed = greetingSize
	}
	x.notes = x.notes[:0]
	x.add(keyGap, s.stage(), noteGap(n))
	return x.notes
}

// Notes records ev, sent by from, and returns the notes that explain it
// (none when every one that applies was shown already). The slice is valid
// until the next call.
func (x *Explainer) Notes(from segment.Dir, ev zmtp.Event) []output.Note {
	i := sideIndex(from)
	s, o := &x.sides[i], &x.sides[i^1]
	x.notes = x.notes[:0]
	switch e := ev.(type) {
	case *zmtp.Greeting:
		x.greeting(s, o, e)
	case *zmtp.Identity:
		s.identified = true
		s.identity, s.hasIdentity = string(e.Data), true
		x.add(keyIdentity, output.StageMetadata, noteIdentity())
	case *zmtp.Command:
		x.command(s, o, e)
	case *zmtp.Message:
		x.message(s, o, e)
	case *zmtp.Gap:
		x.add(keyGap, s.stage(), noteGap(e.Bytes))
	case *zmtp.Resync:
		if e.Reason == zmtp.ResyncMidStream {
			x.add(keyResyncJoin, s.stage(), noteResyncJoin())
		} else {
			x.add(keyResyncGap, s.stage(), noteResyncGap(e.Source))
		}
	case *zmtp.Error:
		x.error(s, o, e)
	case *zmtp.Connection:
		x.teardown(e)
	case *diagnose.Problem:
		x.problem(e)
	}
	return x.notes
}

// add appends note n of key unless it was shown on this connection.
func (x *Explainer) add(key noteKey, stage string, n noteText) {
	bit := uint64(1) << key
	if !x.all && x.shown&bit != 0 {
		return
	}
	x.shown |= bit
	x.notes = append(x.notes, output.Note{Key: noteKeys[key], Stage: stage, Text: n.text, Cite: n.cite})
}

// stage is where side s stands in the connection.
func (s *explainSide) stage() string {
	switch {
	case !s.greeted:
		return output.StageVersion
	case s.major < 3 && !s.identified:
		return output.StageMetadata
	case s.major < 3 || s.done:
		return output.StageMessages
	}
	return output.StageSecurity
}

func (x *Explainer) greeting(s, o *explainSide, e *zmtp.Greeting) {
	s.greeted = true
	s.major, s.minor, s.mech = e.Major, e.Minor, e.Mechanism
	if e.SocketType != "" {
		s.sockType = e.SocketType
	}
	switch {
	case e.Major >= 3:
		x.add(keyGreeting, output.StageVersion, noteGreeting(e))
		if p := s.greetingPieces(e.Len); len(p) > 1 {
			x.add(keyGreetingSplit, output.StageVersion, noteGreetingSplit(p, s.moreThanMax, x.ipc))
		} else if len(p) == 1 {
			x.add(keyGreetingWhole, output.StageVersion, noteGreetingWhole(x.ipc))
		}
		if pad := padding(e); pad != 0 {
			x.add(keyGreetingPadding, output.StageVersion, noteGreetingPadding(pad))
		}
		x.add(keyAsServer, output.StageVersion, noteAsServer(e))
		if o.greeted && o.major >= 3 && (o.major != e.Major || o.minor != e.Minor) {
			x.add(keyVersionMixed, output.StageVersion, noteVersionMixed(e, o))
		}
	case e.Major == 2 && e.Downgraded:
		x.add(keyDowngrade20, output.StageVersion, noteDowngrade20(e))
	case e.Major == 2:
		x.add(keyGreeting20, output.StageVersion, noteGreeting20(e))
	case e.Downgraded:
		x.add(keyDowngrade10, output.StageVersion, noteDowngrade10(padding(e)))
	default:
		x.add(keyGreeting10, output.StageVersion, noteGreeting10())
	}
}

// greetingPieces returns the sizes of the segments that carried the first
// n bytes, or nil when they are not known.
func (s *explainSide) greetingPieces(n uint64) []int {
	if s.piecesLost || s.npieces == 0 {
		return nil
	}
	var sum uint64
	for i, p := range s.pieces[:s.npieces] {
		sum += uint64(p)
		if sum >= n {
			return s.pieces[:i+1]
		}
	}
	if s.moreThanMax {
		return s.pieces[:s.npieces]
	}
	return nil
}

// padding returns the signature's 8 padding bytes as a number.
func padding(e *zmtp.Greeting) uint64 {
	var v uint64
	for _, c := range e.Signature[1:9] {
		v = v<<8 | uint64(c)
	}
	return v
}

func (x *Explainer) command(s, o *explainSide, c *zmtp.Command) {
	stage := s.stage() // before this command moves it on
	for _, p := range c.Properties {
		switch {
		case strings.EqualFold(string(p.Name), "Socket-Type"):
			s.sockType = string(p.Value)
		case strings.EqualFold(string(p.Name), "Identity"):
			s.identity, s.hasIdentity = string(p.Value[:min(len(p.Value), 255)]), true
		}
	}
	mech := c.Mechanism
	switch c.Kind {
	case zmtp.KindReady:
		switch mech {
		case "NULL":
			s.done = true
			x.add(keyNullReady, output.StageSecurity, noteNullReady(s.minor))
		case "PLAIN":
			s.done = true
			x.add(keyPlainReady, output.StageMetadata, notePlainReady())
		case "CURVE":
			s.done = true
			x.add(keyCurveReady, output.StageMetadata, noteCurveReady(c.BoxSize))
		}
	case zmtp.KindHello:
		switch mech {
		case "PLAIN":
			s.hello = true
			x.add(keyPlainHello, output.StageSecurity, notePlainHello())
		case "CURVE":
			s.hello = true
			x.add(keyCurveHello, output.StageSecurity, noteCurveHello(c.Nonce))
		}
	case zmtp.KindWelcome:
		switch mech {
		case "PLAIN":
			x.add(keyPlainWelcome, output.StageSecurity, notePlainWelcome())
		case "CURVE":
			x.add(keyCurveWelcome, output.StageSecurity, noteCurveWelcome())
		}
	case zmtp.KindInitiate:
		switch mech {
		case "PLAIN":
			s.done = true
			x.add(keyPlainInitiate, output.StageMetadata, notePlainInitiate())
		case "CURVE":
			s.done = true
			x.add(keyCurveInitiate, output.StageSecurity, noteCurveInitiate(c.BoxSize))
		}
	case zmtp.KindMessage:
		if c.Encrypted {
			x.add(keyCurveEncrypted, output.StageMessages, noteCurveEncrypted(c.BoxSize, false))
		}
	case zmtp.KindError:
		x.add(keyErrorCmd, stage, noteErrorCommand(s.minor))
	case zmtp.KindPing:
		x.add(keyPing, output.StageMessages, notePing(c))
	case zmtp.KindPong:
		x.add(keyPong, output.StageMessages, notePong())
	case zmtp.KindSubscribe:
		s.subscriber31 = true
		x.add(keySub31, output.StageMessages, noteSubscribe31(c.Topic))
	case zmtp.KindCancel:
		x.add(keyCancel31, output.StageMessages, noteCancel31())
	}
	if len(c.Properties) > 0 && (c.Kind == zmtp.KindReady || c.Kind == zmtp.KindInitiate) {
		x.add(keyMetadata, output.StageMetadata, noteMetadata(c.Name, s.minor))
		for _, p := range c.Properties {
			if strings.EqualFold(string(p.Name), "Identity") {
				x.add(keyMetaIdentity, output.StageMetadata, noteMetaIdentity(p.Value, s.sockType, s.minor))
			}
		}
	}
	if c.Size > 255 {
		x.add(keyFrameLong, stage, noteCommandLong(c.Size, s.minor))
	}
}

func (x *Explainer) message(s, o *explainSide, m *zmtp.Message) {
	s.done = true
	switch {
	case m.Encrypted:
		x.add(keyCurveEncrypted, output.StageMessages, noteCurveEncrypted(m.BoxSize, true))
		return
	case m.Subscription == zmtp.Subscribe:
		x.add(keySub30, output.StageMessages, noteSubscribe30(s.major, s.minor, m.Topic))
		return
	case m.Subscription == zmtp.Cancel:
		x.add(keyCancel30, output.StageMessages, noteCancel30(s.major))
		return
	}
	x.add(keyMessage, output.StageMessages, noteMessage(s.major, s.minor, m))
	if len(m.Frames)+m.FramesOmitted > 1 {
		x.add(keyFrameMore, output.StageMessages, noteFrameMore(s.major, s.minor, len(m.Frames)+m.FramesOmitted))
	}
	for _, f := range m.Frames {
		if f.Size > 255 || s.major == 1 && f.Size >= 254 {
			x.add(keyFrameLong, output.StageMessages, noteFrameLong(s.major, s.minor, f.Size))
			break
		}
	}
	if len(m.Frames) > 1 && m.Frames[0].Size == 0 && m.Frames[0].More &&
		(isReqRep(s.sockType) || isReqRep(o.sockType)) {
		x.add(keyReqDelimiter, output.StageMessages, noteReqDelimiter())
	}
	if s.sockType == "ROUTER" || o.sockType == "ROUTER" {
		peer := s
		if s.sockType == "ROUTER" {
			peer = o
		}
		x.add(keyRouterID, output.StageMessages, noteRouterID(peer.identity))
	}
	if s.sockType == "PUB" || s.sockType == "XPUB" {
		x.add(keyPubFilter, output.StageMessages, notePubFilter(s.minor))
	}
}

func isReqRep(t string) bool { return t == "REQ" || t == "REP" }

func (x *Explainer) error(s, o *explainSide, e *zmtp.Error) {
	switch {
	case errors.Is(e.Err, zmtp.ErrMechanismMismatch):
		x.add(keyMechMismatch, output.StageVersion, noteMechMismatch())
	case errors.Is(e.Err, zmtp.ErrMalformedCommand) && s.mech == "PLAIN" && o.hello &&
		strings.Contains(e.Reason(), "command name length 94 "):
		x.add(keyErrorLibzmqPlain, output.StageSecurity, noteLibzmqPlainError())
	}
	x.add(keyDecodeError, s.stage(), noteDecodeError())
}

func (x *Explainer) teardown(c *zmtp.Connection) {
	switch c.End {
	case segment.Finished:
		x.add(keyTeardownFin, output.StageTeardown, noteTeardownFin(x.ipc))
	case segment.Reset:
		x.add(keyTeardownRst, output.StageTeardown, noteTeardownRst())
	default:
		x.add(keyTeardownOpen, output.StageTeardown, noteTeardownOpen(c.End.String()))
	}
}
