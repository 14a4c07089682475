package learn

// noteKey numbers the notes; an Explainer keeps one bit per key.
type noteKey uint8

// The notes, in the order of a connection's stages. README.md lists them
// with their RFC sections.
const (
	keyGreeting noteKey = iota
	keyGreetingSplit
	keyGreetingWhole
	keyGreetingPadding
	keyAsServer
	keyVersionMixed
	keyGreeting20
	keyDowngrade20
	keyGreeting10
	keyDowngrade10
	keyIdentity
	keyNullReady
	keyPlainHello
	keyPlainWelcome
	keyPlainInitiate
	keyPlainReady
	keyCurveHello
	keyCurveWelcome
	keyCurveInitiate
	keyCurveReady
	keyMetadata
	keyMetaIdentity
	keyCurveEncrypted
	keyMessage
	keyFrameMore
	keyFrameLong
	keyReqDelimiter
	keyRouterID
	keyPubFilter
	keySub31
	keyCancel31
	keySub30
	keyCancel30
	keyPing
	keyPong
	keyErrorCmd
	keyErrorLibzmqPlain
	keyMechMismatch
	keyDecodeError
	keyGap
	keyResyncGap
	keyResyncJoin
	keyTeardownFin
	keyTeardownRst
	keyTeardownOpen
	numNoteKeys
)

// noteKeys are the keys' names, as JSON and README show them.
var noteKeys = [numNoteKeys]string{
	keyGreeting:         "greeting",
	keyGreetingSplit:    "greeting.split",
	keyGreetingWhole:    "greeting.whole",
	keyGreetingPadding:  "greeting.padding",
	keyAsServer:         "greeting.as-server",
	keyVersionMixed:     "version.mixed",
	keyGreeting20:       "greeting.20",
	keyDowngrade20:      "downgrade.20",
	keyGreeting10:       "greeting.10",
	keyDowngrade10:      "downgrade.10",
	keyIdentity:         "identity",
	keyNullReady:        "null.ready",
	keyPlainHello:       "plain.hello",
	keyPlainWelcome:     "plain.welcome",
	keyPlainInitiate:    "plain.initiate",
	keyPlainReady:       "plain.ready",
	keyCurveHello:       "curve.hello",
	keyCurveWelcome:     "curve.welcome",
	keyCurveInitiate:    "curve.initiate",
	keyCurveReady:       "curve.ready",
	keyMetadata:         "ready.metadata",
	keyMetaIdentity:     "metadata.identity",
	keyCurveEncrypted:   "curve.encrypted",
	keyMessage:          "message",
	keyFrameMore:        "frame.more",
	keyFrameLong:        "frame.long",
	keyReqDelimiter:     "req.delimiter",
	keyRouterID:         "router.routing-id",
	keyPubFilter:        "pub.filter",
	keySub31:            "sub.31-command",
	keyCancel31:         "sub.31-cancel",
	keySub30:            "sub.30-message",
	keyCancel30:         "sub.30-cancel",
	keyPing:             "ping",
	keyPong:             "pong",
	keyErrorCmd:         "error",
	keyErrorLibzmqPlain: "error.libzmq-plain",
	keyMechMismatch:     "mechanism.mismatch",
	keyDecodeError:      "decode.error",
	keyGap:              "gap",
	keyResyncGap:        "resync.gap",
	keyResyncJoin:       "resync.mid-stream",
	keyTeardownFin:      "teardown.fin",
	keyTeardownRst:      "teardown.rst",
	keyTeardownOpen:     "teardown.open",
}

// The Explainer's shown set is one uint64.
var _ = [64 - numNoteKeys]struct{}{}

// NoteKeys returns the names of every note an Explainer can show.
func NoteKeys() []string { return append([]string(nil), noteKeys[:]...) }
