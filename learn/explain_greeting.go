package learn

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/zmtpdump/zmtpdump/output"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// noteText is a note's text and the RFC sections it comes from.
type noteText struct{ text, cite string }

// zmtpRFC is the RFC of a ZMTP 3 minor version: 23 for 3.0, 37 for 3.1.
func zmtpRFC(minor uint8) string {
	if minor == 0 {
		return "RFC 23"
	}
	return "RFC 37"
}

// cite formats `RFC N "Section", "Section"`.
func cite(rfc string, sections ...string) string {
	return rfc + ` "` + strings.Join(sections, `", "`) + `"`
}

func noteGreeting(e *zmtp.Greeting) noteText {
	return noteText{
		"A ZMTP 3 greeting is 64 bytes: the signature (0xFF, 8 bytes of padding, 0x7F), the version " +
			"(major 3, then minor: 0 for ZMTP 3.0, 1 for 3.1), the name of the security mechanism padded " +
			"with zeros to 20 bytes, the as-server byte and 31 zero bytes of filler. Each side sends one. " +
			"Both must name the same mechanism: a peer that receives another one MUST close the connection.",
		cite(zmtpRFC(e.Minor), "Formal Grammar", "Authentication and Confidentiality"),
	}
}

// pieceWords are how notes call the pieces a stream came in: TCP segments,
// or, over ipc:// (a Unix stream socket), sends (write, sendmsg... calls).
func pieceWords(ipc bool, n int) string {
	if ipc {
		return output.Plural(uint64(n), "send")
	}
	return output.Plural(uint64(n), "TCP segment")
}

// onePiece is pieceWords' "one TCP segment" or "one send".
func onePiece(ipc bool) string {
	if ipc {
		return "one send"
	}
	return "one TCP segment"
}

func noteGreetingSplit(pieces []int, more, ipc bool) noteText {
	sizes := make([]string, len(pieces))
	for i, p := range pieces {
		sizes[i] = strconv.Itoa(p)
	}
	list := strings.Join(sizes, "+")
	if more {
		list += "+..."
	}
	if pieces[0] == 10 || pieces[0] == 11 {
		return noteText{
			fmt.Sprintf("This greeting came in %s (%s bytes). A peer that can talk to older "+
				"versions of ZMTP, as libzmq can, sends its greeting in steps and reads the other side's "+
				"between them: first the 10-byte signature (a ZMTP 1.0 peer, which has no greeting, reads it "+
				"as the header of an identity frame), then the major version (a 2.0 peer answers with "+
				"revision 1 or 2, and both go on in ZMTP 2.0), then, to a ZMTP 3 peer only, the other 53 "+
				"bytes. A step whose answer has already arrived goes out with the one before it, so the "+
				"pieces may be 10+1+53, 10+54 or 11+53.", pieceWords(ipc, len(pieces)), list),
			cite("RFC 23", "Version Negotiation", "Detecting ZMTP 1.0 and 2.0 Peers"),
		}
	}
	stream := "TCP carries"
	if ipc {
		stream = "a Unix stream socket, as TCP, carries"
	}
	return noteText{
		fmt.Sprintf("This greeting came in %s (%s bytes): %s a stream of bytes with "+
			"no boundaries, so a greeting or a frame may arrive cut anywhere, and the reader puts it back "+
			"together.", pieceWords(ipc, len(pieces)), list, stream),
		cite("RFC 23", "Goals"),
	}
}

func noteGreetingWhole(ipc bool) noteText {
	return noteText{
		"This whole 64-byte greeting came in " + onePiece(ipc) + ", as from a peer that does not try to detect " +
			"ZMTP 1.0 and 2.0 peers: such a peer SHOULD send its full greeting at once, and expects a full " +
			"ZMTP 3 greeting back.",
		cite("RFC 23", "Version Negotiation", "Backwards Interoperability"),
	}
}

func noteGreetingPadding(pad uint64) noteText {
	id := ""
	if pad <= 256 {
		id = fmt.Sprintf(" (here an identity of %s)", output.Plural(pad-1, "byte"))
	}
	return noteText{
		fmt.Sprintf("The 8 padding bytes after 0xFF hold the number %d. A peer that can talk to ZMTP 1.0 "+
			"puts its identity's length + 1 there%s, so that a 1.0 peer reads the signature as the header of "+
			"an identity frame: 0xFF, an 8-byte length, then 0x7F as the flags. Otherwise the padding means "+
			"nothing: a peer MUST NOT interpret it.", pad, id),
		cite("RFC 23", "Version Negotiation", "Detecting ZMTP 1.0 and 2.0 Peers"),
	}
}

func noteAsServer(e *zmtp.Greeting) noteText {
	as := 0
	if e.AsServer {
		as = 1
	}
	rfc := zmtpRFC(e.Minor)
	switch e.Mechanism {
	case "NULL":
		t := "as-server says whether the sender plays the server of the security handshake. NULL has " +
			"no such roles: as-server MUST be 0 under NULL."
		if e.Minor > 0 {
			t += " ZMTP 3.1 makes the peer that binds the NULL server, the one that connects the client."
		}
		return noteText{t, cite(rfc, "Topology", "The NULL Security Mechanism")}
	case "PLAIN", "CURVE":
		t := fmt.Sprintf("as-server says whether the sender plays the server of the %s handshake (1) or "+
			"its client (0); the role need not follow who connected. This one says %d.", e.Mechanism, as)
		if !e.AsServer {
			t += " Do not read roles from it in libzmq's traffic: libzmq 4.3.4 sends 0 from servers too " +
				"(measured). The client is the side that sends HELLO."
		}
		spec := `RFC 24 "Implementation"`
		if e.Mechanism == "CURVE" {
			spec = `RFC 25 "Implementation"`
		}
		return noteText{t, cite(rfc, "Topology") + "; " + spec}
	}
	return noteText{
		fmt.Sprintf("as-server says whether the sender plays the server of the security handshake (1) or "+
			"its client (0), when the mechanism has such roles. This one says %d.", as),
		cite(rfc, "Topology"),
	}
}

func noteVersionMixed(e *zmtp.Greeting, o *explainSide) noteText {
	return noteText{
		fmt.Sprintf("The two sides announced different versions: %d.%d here, %d.%d the other way. A peer "+
			"uses its own protocol with an equal or higher peer and MAY downgrade for a lower one. ZMTP 3.0 "+
			"and 3.1 share the greeting and the framing; 3.1 adds commands (SUBSCRIBE, CANCEL, PING, PONG) "+
			"that a 3.0 peer does not know.", e.Major, e.Minor, o.major, o.minor),
		`RFC 37 introduction, "Version Negotiation"`,
	}
}

func noteGreeting20(e *zmtp.Greeting) noteText {
	return noteText{
		fmt.Sprintf("A ZMTP 2.0 greeting: the 10-byte signature, a revision byte (%d; ZMTP 2.0 is revision "+
			"1) and the sender's socket type as one byte (%s); an identity frame follows. ZMTP 2.0 has no "+
			"security mechanism, no commands and no metadata besides these.", e.Revision, output.AppendToken(nil, []byte(e.SocketType))),
		cite("RFC 15", "Formal Grammar"),
	}
}

func noteDowngrade20(e *zmtp.Greeting) noteText {
	return noteText{
		fmt.Sprintf("This peer speaks ZMTP 3 but downgraded to 2.0 for the other side: after its signature "+
			"it sends its major version, %d, and once it has read the other side's revision 1 (ZMTP 2.0) it "+
			"goes on as a 2.0 peer: its socket type (%s), an identity frame, then 2.0 frames. So its %d "+
			"stands where a 2.0 greeting has its revision. Only a NULL peer may do this: a peer set up for "+
			"PLAIN or CURVE MUST close the connection instead.", e.Revision, output.AppendToken(nil, []byte(e.SocketType)), e.Revision),
		cite("RFC 23", "Detecting ZMTP 2.0 Peers", "Detecting ZMTP 1.0 and 2.0 Peers"),
	}
}

func noteGreeting10() noteText {
	return noteText{
		"ZMTP 1.0 has no greeting and no version: each direction starts with an identity frame. A reader " +
			"tells 1.0 from later versions by the first byte, which is not 0xFF, or by a 10th byte whose " +
			"lowest bit is 0.",
		`RFC 13 "The Connection Layer"; RFC 23 "Detecting ZMTP 1.0 and 2.0 Peers"`,
	}
}

func noteDowngrade10(pad uint64) noteText {
	id := ""
	if pad >= 1 && pad <= 256 {
		id = fmt.Sprintf(" (%d: the flags byte and %s of identity)", pad, output.Plural(pad-1, "byte"))
	}
	return noteText{
		"This peer downgraded to ZMTP 1.0: the other side's first byte was not 0xFF, so it sent no more " +
			"greeting. Its 10-byte signature already reads, to a 1.0 peer, as the header of an identity " +
			"frame: 0xFF, an 8-byte length" + id + ", then 0x7F taken as the flags. The identity's body and " +
			"1.0 frames follow.",
		`RFC 23 "Detecting ZMTP 1.0 and 2.0 Peers"; RFC 13 "The Framing Layer"`,
	}
}

func noteIdentity() noteText {
	return noteText{
		"Before any message, a ZMTP 2.0 or 1.0 peer sends its identity as one frame. An empty identity is " +
			"anonymous: nothing needs to be kept for this peer once the connection ends. An identity of 1 to " +
			"255 bytes asks the other peer to keep its resources under that name.",
		`RFC 13 "The Connection Layer"; RFC 15 "Formal Grammar"`,
	}
}
