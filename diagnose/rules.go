package diagnose

// kindRules are the rules behind the kinds, by kind, for Kind.Rule.
var kindRules = [numKinds]string{
	SocketTypeMismatch: "Peers MUST use socket types that RFC 23 allows together " +
		`(ZMTP 3.0, "Socket Semantics"; RFC 37 "The Socket-Type Property"): PAIR-PAIR, ` +
		"PUB or XPUB with SUB or XSUB, REQ with REP or ROUTER, DEALER with REP, DEALER or ROUTER, " +
		"ROUTER-ROUTER, PUSH-PULL (and the draft CLIENT-SERVER, RADIO-DISH, SCATTER-GATHER, " +
		"PEER-PEER, CHANNEL-CHANNEL). A peer that reads another type in READY closes the connection, as libzmq does.",
	MechanismMismatch: "If the mechanism a peer receives in the greeting does not exactly match the one " +
		`it sent, it MUST close the connection (RFC 23 "Authentication and Confidentiality").`,
	AuthFailed: "A security handshake that the server refuses ends in ERROR (RFC 23 \"Error Handling\", " +
		"RFC 24 PLAIN, RFC 26 CURVE; ZAP status codes 300/400/500 of RFC 27) or in the server closing the " +
		"connection. Under CURVE, a server that cannot open the client's HELLO box (the client used the wrong " +
		"server public key) closes without WELCOME (RFC 26 \"The HELLO Command\").",
	ConnectRefused: "A TCP SYN answered by RST means no process listens on the endpoint (RFC 9293 " +
		"\"Reset Generation\"); ZeroMQ sockets reconnect every reconnect interval, so a socket pointed at " +
		"the wrong endpoint shows a burst of refused attempts.",
	HeartbeatTimeout: "A peer that receives a PING SHALL reply with a PONG; the TTL tells it how long to " +
		"wait for traffic before closing (RFC 37 \"Connection Heartbeating\"). A PING that gets neither a " +
		"PONG nor any other traffic within two of the sender's intervals between PINGs (its own timeout, not on the wire, " +
		"defaults to one), or its TTL when the interval is not known, before the close means the " +
		"peer stopped (hung, paused, or unreachable).",
	Stalled: "TCP flow control: a receiver advertising a zero window (RFC 9293 \"Managing the Window\") " +
		"while the sender has data means the receiving application stopped reading, ZeroMQ's high-water " +
		"mark back-pressure upstream of it.",
	ResetMidMessage: "A message is a run of frames ending with one whose MORE flag is clear, and a frame " +
		`carries the number of octets its size says (RFC 23 "Framing"); a connection that ends inside ` +
		"a message or a frame lost the message.",
	DuplicateIdentity: "A ROUTER identifies its peers by the Identity property of READY (RFC 23 \"The " +
		"Identity Property\", RFC 37 for ROUTER peers); two connected peers announcing one identity " +
		"collide: libzmq refuses the second (or hands the identity over with ZMQ_ROUTER_HANDOVER).",
	UnsupportedVersion: "A ZMTP 3.x peer SHOULD downgrade to the version of an older peer (RFC 23 " +
		"\"Backwards Interoperability\"); a 3.x peer that closes after reading a 1.0 or 2.0 greeting " +
		"does not support the older peer.",
	MisplacedSubscription: "SUBSCRIBE and CANCEL are sent by subscribers: SUB and XSUB sockets to PUB and " +
		"XPUB (RFC 37 \"The SUBSCRIBE Command\", \"The CANCEL Command\"; RFC 29 PUB-SUB).",
	PongMismatch: "A peer that receives a PING SHALL reply with a PONG carrying the PING's context " +
		`(RFC 37 "Connection Heartbeating").`,
	AsServerConflict: "Under PLAIN and CURVE one peer acts as server and the other as client (RFC 23 " +
		`"The Greeting": as-server, RFC 24, RFC 26); two greetings both claiming the server role mean ` +
		"both peers were configured as servers, and the handshake cannot complete (libzmq sends as-server 0 " +
		"on both sides, so only two claims are judged).",
}
