package learn

import (
	"fmt"

	"github.com/zmtpdump/zmtpdump/output"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

func noteNullReady(minor uint8) noteText {
	if minor == 0 {
		return noteText{
			"Under NULL (no authentication, no encryption) the security handshake is one READY command " +
				"each way, and each peer sends its own without waiting for the other's. A peer may send " +
				"messages right after its READY.",
			cite("RFC 23", "The NULL Security Mechanism"),
		}
	}
	return noteText{
		"Under NULL (no authentication, no encryption) the security handshake is one READY command each " +
			"way. ZMTP 3.1 has the client (the peer that connects) send READY first and the server answer; " +
			"libzmq sends its READY as soon as the greetings are done, so the two may cross. A peer may send " +
			"messages once it has both sent and received READY.",
		cite("RFC 37", "The NULL Security Mechanism"),
	}
}

func noteMetadata(name string, minor uint8) noteText {
	return noteText{
		name + " carries the sender's connection metadata: properties, each a name (1 to 255 characters, " +
			"case does not matter) and a value (a 4-byte length, then bytes). Socket-Type is the sender's " +
			"socket type: a peer SHOULD check the pair is valid (PUSH with PULL, REQ with REP or ROUTER, PUB " +
			"with SUB...) and, if not, SHOULD send ERROR and disconnect. Names starting X- are for applications.",
		cite(zmtpRFC(minor), "Connection Metadata", "The Socket-Type Property"),
	}
}

func noteMetaIdentity(value []byte, sockType string, minor uint8) noteText {
	t := "Identity is the sender's routing id, by which a ROUTER addresses it. Only a REQ, DEALER or " +
		"ROUTER connecting to a ROUTER may send one; other socket types ignore it."
	switch {
	case sockType != "" && sockType != "REQ" && sockType != "DEALER" && sockType != "ROUTER":
		t += " It comes from a " + string(output.AppendToken(nil, []byte(sockType))) + " here, so it is ignored."
	case len(value) == 0:
		t += " This one is empty and names nothing: a libzmq ROUTER then makes up an id of its own."
	}
	return noteText{t, cite(zmtpRFC(minor), "The Identity Property")}
}

func notePlainHello() noteText {
	return noteText{
		"PLAIN starts with the client's HELLO: a user name and a password, each a length byte then the " +
			"text, in clear: anyone who sees the traffic can read them (zmtpdump shows only the password's " +
			"length unless --show-secrets). The server accepts with WELCOME, or rejects with ERROR or by " +
			"closing the connection.",
		cite("RFC 24", "Implementation"),
	}
}

func notePlainWelcome() noteText {
	return noteText{
		"WELCOME is empty: the server accepted the user name and password. The client goes on with " +
			"INITIATE, which carries its metadata.",
		cite("RFC 24", "Implementation"),
	}
}

func notePlainInitiate() noteText {
	return noteText{
		"INITIATE carries the client's metadata, in the same form as READY. The server checks it and " +
			"answers READY with its own metadata, or ERROR.",
		cite("RFC 24", "Implementation"),
	}
}

func notePlainReady() noteText {
	return noteText{
		"The server's READY, with its metadata, ends the PLAIN handshake. The server may send messages " +
			"from now on, the client once it has received this READY.",
		cite("RFC 24", "Implementation"),
	}
}

// nonceValue reads a short nonce, an 8-byte counter.
func nonceValue(n []byte) uint64 {
	var v uint64
	for _, c := range n {
		v = v<<8 | uint64(c)
	}
	return v
}

func noteCurveHello(nonce []byte) noteText {
	return noteText{
		fmt.Sprintf("CURVE starts with the client's HELLO, always 200 bytes: version 1.0; 72 zero bytes that "+
			"make HELLO larger than the WELCOME it asks for, so that a forged HELLO cannot amplify traffic; "+
			"the client's transient public key C', made for this connection (shown in Z85); a short nonce, a "+
			"counter (here %d); and an 80-byte box of 64 zero bytes encrypted from C' to the server's "+
			"permanent public key, which the client must know beforehand.", nonceValue(nonce)),
		cite("RFC 26", "High-level Grammar", "The HELLO Command"),
	}
}

func noteCurveWelcome() noteText {
	return noteText{
		"WELCOME, always 168 bytes: a 16-byte long nonce and a 144-byte box only the client can " +
			"open. It holds the server's transient public key S' and a cookie (C' and the server's transient " +
			"secret key, locked with a key only the server knows), so that the server keeps no state for " +
			"this client until INITIATE brings the cookie back.",
		cite("RFC 26", "The WELCOME Command"),
	}
}

func noteCurveInitiate(box uint64) noteText {
	meta := ""
	if box >= 144 {
		meta = fmt.Sprintf(", here %s of it: the box is 144 bytes plus the metadata", output.Plural(box-144, "byte"))
	}
	return noteText{
		"INITIATE returns the cookie (96 bytes) with a short nonce and a box encrypted from C' to S'. The " +
			"box holds the client's permanent public key, a vouch proving the client owns it, and the " +
			"client's metadata (Socket-Type...)" + meta + ". zmtpdump cannot show them: the transient secret " +
			"keys never leave the two peers.",
		cite("RFC 26", "The INITIATE Command"),
	}
}

func noteCurveReady(box uint64) noteText {
	meta := ""
	if box >= 16 {
		meta = fmt.Sprintf(" (here %s: a box is 16 bytes larger than what it holds)", output.Plural(box-16, "byte"))
	}
	return noteText{
		"The server's READY ends the CURVE handshake: a short nonce and a box holding the server's " +
			"metadata" + meta + ", encrypted from S' to C'. zmtpdump cannot open it.",
		cite("RFC 26", "The READY Command"),
	}
}

func noteCurveEncrypted(box uint64, dataFrame bool) noteText {
	data := ""
	if box >= 17 {
		data = fmt.Sprintf(", here %s", output.Plural(box-17, "byte"))
	}
	t := "After the CURVE handshake every frame travels as a MESSAGE: a short nonce and a box encrypted " +
		"with the connection's transient keys, whose secret halves never leave the peers and are destroyed " +
		"when the connection closes: nobody can read the data, zmtpdump included, not even with the " +
		"permanent keys later. A box is 16 bytes larger than what it holds: a flags byte (MORE) and the frame's " +
		"data" + data + "."
	c := cite("RFC 26", "The MESSAGE Command")
	if dataFrame {
		t += " ZMTP says encrypted data travels as commands; libzmq 4.3 sends MESSAGE in an ordinary data " +
			"frame whose body starts 0x07 \"MESSAGE\", as here."
		c += `; RFC 23 "Wire Analysis of the Connection"`
	}
	return noteText{t, c}
}

func noteErrorCommand(minor uint8) noteText {
	return noteText{
		"ERROR ends the handshake; its reason is only for logs. The peer that receives it SHALL treat it as " +
			"fatal: close the connection and not reconnect with the same credentials.",
		cite(zmtpRFC(minor), "Error Handling"),
	}
}

func noteLibzmqPlainError() noteText {
	return noteText{
		"This is most likely libzmq 4.3.4 rejecting the client: the other side sent a PLAIN HELLO, and " +
			"libzmq writes the ERROR it answers with as 0x5E \"RROR\" instead of 0x05 \"ERROR\" (in its C " +
			"string \"\\x05ERROR\", \\x05E is one escape, 0x5E), so the name length claims 94 bytes of a " +
			"9-byte body. A well-formed ERROR is 0x05 \"ERROR\", a reason length and the reason. Either way " +
			"the handshake failed, and the client must not retry with the same credentials.",
		`RFC 23 "The NULL Security Mechanism" (error grammar), "Error Handling"; RFC 24 "Implementation"`,
	}
}

func noteMechMismatch() noteText {
	return noteText{
		"The two greetings name different mechanisms. Security is assertive: a peer that receives a " +
			"mechanism other than its own MUST close the connection, so nothing more can follow.",
		cite("RFC 23", "Authentication and Confidentiality"),
	}
}

func noteDecodeError() noteText {
	return noteText{
		"zmtpdump stops decoding this direction at an error rather than guess: a frame gives only its own " +
			"size, so once one frame is in doubt every later frame boundary is too. The rest of this " +
			"direction is counted, not shown.",
		cite("RFC 23", "Framing"),
	}
}

func notePing(c *zmtp.Command) noteText {
	ttl := "here 0: none"
	if c.TTL > 0 {
		ttl = fmt.Sprintf("here %d.%ds", c.TTL/10, c.TTL%10)
	}
	return noteText{
		fmt.Sprintf("PING is ZMTP 3.1's heartbeat, allowed once the handshake is done. The other peer "+
			"answers PONG, echoing the context (0 to 16 bytes, here %d). The TTL, in tenths of a second "+
			"(%s), asks the other peer to consider the connection dead if no traffic at all arrives within "+
			"it: any traffic is a sign of life, not only PONG.", len(c.Context), ttl),
		cite("RFC 37", "Connection Heartbeating"),
	}
}

func notePong() noteText {
	return noteText{"PONG answers a PING, echoing its context.", cite("RFC 37", "Connection Heartbeating")}
}

func noteGap(n uint64) noteText {
	return noteText{
		output.Plural(n, "byte") + " of this direction were never captured (the kernel's ring buffer was full, " +
			"or the capture missed them). ZMTP has no markers to resynchronise on, a frame giving only its " +
			"own size: zmtpdump carries on when the loss fell inside a frame body of known size; otherwise " +
			"it has lost its place in the stream and looks for the next frame it can prove (see resync).",
		cite("RFC 23", "Framing"),
	}
}

// noteResync is what every resync note says of how a boundary is proven
// and why the first messages after it may be missing.
const noteResync = " A frame header holds only flags and a size, so any byte could start one: a " +
	"boundary is proven by a chain of headers that obey the grammar (reserved flag bits zero, command " +
	"names of letters, sizes that land on the next header) over enough of the bytes that follow, or by " +
	"the kernel, which walked every frame header of the direction. A message is shown only from a frame " +
	"known to start one (the frame before it ended its message): the first messages after a resync, and " +
	"a message whose first frames came before it, are not shown, because zmtpdump cannot tell them from " +
	"the middle of a multipart message."

func noteResyncGap(src zmtp.SyncSource) noteText {
	how := "The search found the next frame boundary it could prove."
	if src == zmtp.SyncKernel {
		how = "The kernel marked the next frame boundary: decoding resumes exactly there, and the gap says " +
			"how many messages the loss took."
	}
	return noteText{"Resync: after the loss, decoding picks the stream up again. " + how + noteResync, cite("RFC 23", "Framing")}
}

func noteResyncJoin() noteText {
	return noteText{
		"Resync: this connection was open before the capture started, so its greeting and handshake were " +
			"never seen. zmtpdump joins it at the first frame boundary it can prove. What the greeting would " +
			"have said is shown only where the traffic proves it (commands mean ZMTP 3.x, PING or SUBSCRIBE " +
			"3.1, MESSAGE frames CURVE), and marked inferred; the rest is unknown." + noteResync,
		cite("RFC 23", "Framing"),
	}
}

func noteTeardownFin(ipc bool) noteText {
	closed := "Both sides sent FIN: the TCP connection"
	if ipc {
		closed = "Both ends closed their sockets: the Unix stream connection"
	}
	return noteText{
		closed + ", and with it the ZMTP connection, closed cleanly. ZMTP has " +
			"no goodbye command: either peer may close at any moment. A peer SHALL treat a close it did " +
			"not expect as a temporary error, and SHOULD reconnect after a while.",
		cite("RFC 23", "Overall Behavior", "Error Handling"),
	}
}

func noteTeardownRst() noteText {
	return noteText{
		"A RST ended the connection abruptly: what was still in flight is lost, and since messages are " +
			"atomic, a message cut short is never delivered. A peer SHALL treat a close it did not expect " +
			"as a temporary error, and SHOULD reconnect after a while.",
		cite("RFC 23", "Error Handling", "Messages"),
	}
}

func noteTeardownOpen(end string) noteText {
	return noteText{
		"The connection had not closed (" + end + "): a ZMTP connection may stay open indefinitely, and " +
			"either peer may close it at any moment. The summary counts what was seen.",
		cite("RFC 23", "Overall Behavior"),
	}
}
