package learn

import (
	"fmt"

	"github.com/zmtpdump/zmtpdump/output"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// framingCite is where the framing of a version is specified.
func framingCite(major, minor uint8, more ...string) string {
	switch major {
	case 1:
		return cite("RFC 13", "The Framing Layer")
	case 2:
		return cite("RFC 15", "Framing")
	}
	return cite(zmtpRFC(minor), append([]string{"Framing"}, more...)...)
}

func noteMessage(major, minor uint8, m *zmtp.Message) noteText {
	var t string
	switch major {
	case 1:
		t = "A message carries application data in one or more frames. In ZMTP 1.0 a frame starts with " +
			"its length, which counts the flags byte (1 byte, or 0xFF and 8 bytes from 255 up), then the " +
			"flags (bit 0: MORE) and the body."
	case 2:
		t = "A message carries application data in one or more frames. A ZMTP 2.0 frame is a flags byte " +
			"(bit 0 MORE: more frames follow; bit 1 LONG: 8-byte size), the body size (1 or 8 bytes) and the " +
			"body."
	default:
		t = "A message carries application data in one or more frames. A frame is a flags byte (bit 0 " +
			"MORE: more frames follow; bit 1 LONG: 8-byte size; bit 2 COMMAND, clear in messages), the body " +
			"size (1 or 8 bytes) and the body."
	}
	if w := wireBytes(major, m); w != "" {
		t += " On the wire this one is " + w + "."
	}
	return noteText{t, framingCite(major, minor, "Messages")}
}

// wireBytes spells out a short one-frame message as sent, e.g. "00 01 31",
// or returns "" when it is not short or not all kept.
func wireBytes(major uint8, m *zmtp.Message) string {
	if len(m.Frames) != 1 || m.FramesOmitted > 0 {
		return ""
	}
	f := &m.Frames[0]
	if f.Truncated() || f.Size > 8 {
		return ""
	}
	var b []byte
	if major == 1 {
		b = append(b, byte(f.Size+1), 0)
	} else {
		b = append(b, 0, byte(f.Size))
	}
	b = append(b, f.Data...)
	return string(output.AppendHexSpaced(nil, b))
}

func noteFrameMore(major, minor uint8, n int) noteText {
	return noteText{
		fmt.Sprintf("This message has %d frames: every frame but the last has the MORE flag set (shown "+
			"+MORE). They form one message, delivered whole or not at all.", n),
		framingCite(major, minor, "Messages"),
	}
}

func noteFrameLong(major, minor uint8, size uint64) noteText {
	if major == 1 {
		return noteText{
			fmt.Sprintf("A frame of %s with its flags byte has a length of 255 or more, so the length is "+
				"0xFF then 8 bytes in network byte order.", output.Plural(size, "byte")),
			framingCite(major, minor),
		}
	}
	return noteText{
		fmt.Sprintf("A body of %s does not fit a 1-byte size, so its frame is LONG: flags bit 1 set and an "+
			"8-byte size in network byte order, for bodies up to 2^63-1 bytes.", output.Plural(size, "byte")),
		framingCite(major, minor),
	}
}

func noteCommandLong(size uint64, minor uint8) noteText {
	return noteText{
		fmt.Sprintf("This command's body is %s: from 256 bytes up a command SHOULD use a long size, so its "+
			"frame starts 0x06 (COMMAND and LONG) and an 8-byte size.", output.Plural(size, "byte")),
		cite(zmtpRFC(minor), "Authentication and Confidentiality", "Framing"),
	}
}

func noteReqDelimiter() noteText {
	return noteText{
		"The empty first frame is the delimiter. A REQ socket puts it before each request; a REP takes off " +
			"everything up to and including it (the address envelope, here just the delimiter), hands the " +
			"application the rest, and puts the envelope back in front of its reply. The applications never " +
			"see it.",
		cite("RFC 28", "The REQ Socket Type", "The REP Socket Type"),
	}
}

func noteRouterID(identity string) noteText {
	id := "an id the ROUTER made up, since this peer announced none"
	if identity != "" {
		id = string(output.AppendQuoted(nil, []byte(identity))) + ", the peer's Identity"
	}
	return noteText{
		"A ROUTER's application gets each message from a peer with one more frame in front, the peer's " +
			"routing id (here " + id + "), and replies by sending that frame first: the ROUTER takes it off " +
			"to pick the connection. So the routing-id frame never travels on the wire.",
		cite("RFC 28", "The ROUTER Socket Type"),
	}
}

func notePubFilter(minor uint8) noteText {
	return noteText{
		"A publisher sends each message only to subscribers with a matching subscription: a subscription " +
			"matches every message that starts with it, and the empty one matches all. The filtering " +
			"happens at the publisher, which is why subscribers send it their subscriptions.",
		cite(zmtpRFC(minor), "The Publish-Subscribe Pattern"),
	}
}

func noteSubscribe31(topic []byte) noteText {
	return noteText{
		"A ZMTP 3.1 subscriber subscribes with a SUBSCRIBE command holding the topic (here " +
			string(output.AppendQuoted(nil, topic)) + "); the publisher then sends it the messages that start with " +
			"it. Subscriptions add up and are counted: subscribing twice to a topic takes two CANCELs.",
		cite("RFC 37", "The Publish-Subscribe Pattern"),
	}
}

func noteCancel31() noteText {
	return noteText{
		"CANCEL withdraws one earlier SUBSCRIBE of the same topic.",
		cite("RFC 37", "The Publish-Subscribe Pattern"),
	}
}

func noteSubscribe30(major, minor uint8, topic []byte) noteText {
	form := "This is how ZMTP 3.0 and 2.0 subscribe: an ordinary one-frame message from the subscriber, " +
		"the byte 0x01 then the topic (here " + string(output.AppendQuoted(nil, topic)) + "); 0x00 then the " +
		"topic cancels. ZMTP 3.1 replaced these messages with SUBSCRIBE and CANCEL commands."
	switch {
	case major == 2:
		return noteText{"This side speaks ZMTP 2.0. " + form, cite("RFC 15", "Publish-Subscribe")}
	case major == 3 && minor == 0:
		form = "This side speaks ZMTP 3.0. " + form
	default:
		form += " libzmq, speaking 3.1, keeps to this form with a peer that announced 3.0."
	}
	return noteText{form, `RFC 23 "The Publish-Subscribe Pattern"; RFC 37 "The Publish-Subscribe Pattern"`}
}

func noteCancel30(major uint8) noteText {
	if major == 2 {
		return noteText{
			"0x00 then the topic cancels one earlier subscription to that topic.",
			cite("RFC 15", "Publish-Subscribe"),
		}
	}
	return noteText{
		"0x00 then the topic cancels one earlier subscription to that topic (ZMTP 3.1's CANCEL command does " +
			"the same).",
		cite("RFC 23", "The Publish-Subscribe Pattern"),
	}
}
