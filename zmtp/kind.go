package zmtp

// CommandKind says which command a Command is, from its name. It is set once,
// by the decoder's table of the commands it knows (commandParsers); a printer
// or an analysis switches on it instead of comparing names. The same name
// means different things under different mechanisms (a HELLO under PLAIN and
// under CURVE): Command.Mechanism tells them apart.
//
// Command names are compared exactly as sent (case-sensitive): a "ping" is
// KindUnknown.
type CommandKind uint8

// The commands of the ZMTP RFCs. Their String is the name on the wire.
const (
	// KindUnknown is any command whose name the decoder does not know
	// (an extension, a mechanism it does not decode): only its Name, Size
	// and Data are set.
	KindUnknown CommandKind = iota
	// KindReady is READY: the metadata that ends the NULL handshake (RFC
	// 23), the server's last PLAIN command (RFC 24), or, under CURVE, the
	// server's encrypted metadata (RFC 25, RFC 26). GSSAPI's READY (RFC 38)
	// is not decoded further: Name, Size and Data only.
	KindReady
	// KindError is ERROR: a handshake refused, with a reason (RFC 23,
	// RFC 24, RFC 25 and RFC 27's ZAP failures as libzmq sends them).
	KindError
	// KindSubscribe is SUBSCRIBE: a ZMTP 3.1 subscription (RFC 37).
	KindSubscribe
	// KindCancel is CANCEL: a ZMTP 3.1 unsubscription (RFC 37).
	KindCancel
	// KindPing is PING: a heartbeat with a TTL and a context (RFC 37).
	KindPing
	// KindPong is PONG: the answer to a PING, echoing its context (RFC 37).
	KindPong
	// KindHello is HELLO: the client's first security command, PLAIN
	// credentials (RFC 24) or CURVE's transient key (RFC 25, RFC 26).
	KindHello
	// KindWelcome is WELCOME: the server's answer to a HELLO, empty under
	// PLAIN (RFC 24), CURVE's cookie box (RFC 25, RFC 26).
	KindWelcome
	// KindInitiate is INITIATE: the client's metadata under PLAIN (RFC 24),
	// its encrypted vouch and metadata under CURVE (RFC 25, RFC 26), its
	// security token under GSSAPI (RFC 38, left as Data).
	KindInitiate
	// KindMessage is MESSAGE: an encrypted CURVE message in command form
	// (RFC 25, RFC 26; the decoder emits it as an encrypted *Message), or a
	// GSSAPI wrapped message (RFC 38), left as a command.
	KindMessage
	// KindJoin is JOIN: a DISH joining a group (libzmq's draft RADIO/DISH
	// sockets on ZMTP 3.1).
	KindJoin
	// KindLeave is LEAVE: a DISH leaving a group (as JOIN).
	KindLeave
	numCommandKinds
)

// commandKindNames are the wire names of the kinds, by kind.
var commandKindNames = [numCommandKinds]string{
	KindUnknown:   "unknown",
	KindReady:     "READY",
	KindError:     "ERROR",
	KindSubscribe: "SUBSCRIBE",
	KindCancel:    "CANCEL",
	KindPing:      "PING",
	KindPong:      "PONG",
	KindHello:     "HELLO",
	KindWelcome:   "WELCOME",
	KindInitiate:  "INITIATE",
	KindMessage:   "MESSAGE",
	KindJoin:      "JOIN",
	KindLeave:     "LEAVE",
}

// String returns the command name on the wire, e.g. "READY", or "unknown"
// for KindUnknown.
func (k CommandKind) String() string {
	if k < numCommandKinds {
		return commandKindNames[k]
	}
	return "unknown"
}
