package zmtp

import (
	"bytes"
	"strconv"
)

// socketTypes are the socket types of RFC 37 "The Socket-Type Property",
// interned so that reading them allocates nothing.
var socketTypes = [...]string{
	"PAIR", "PUB", "SUB", "REQ", "REP", "DEALER", "ROUTER", "PULL", "PUSH",
	"XPUB", "XSUB", "STREAM", "CLIENT", "SERVER", "RADIO", "DISH",
	"SCATTER", "GATHER", "PEER", "CHANNEL",
}

// socketType2 names a ZMTP 2.0 socket-type octet (RFC 15: PAIR %x00 to PUSH
// %x08); other values are shown in hex.
func socketType2(b byte) string {
	if b <= 8 {
		return socketTypes[b]
	}
	return "0x" + strconv.FormatUint(uint64(b), 16)
}

// socketTypeName returns a Socket-Type property value as a string, interned
// for the RFC 37 types. Values longer than 32 bytes are not socket types.
func socketTypeName(v []byte) string {
	for _, t := range socketTypes {
		if string(v) == t {
			return t
		}
	}
	if len(v) > 32 {
		return ""
	}
	return string(v)
}

// isProperty reports whether a property name is want, ignoring case (RFC
// 37: "Metadata names SHALL be case-insensitive").
func isProperty(name []byte, want string) bool {
	return bytes.EqualFold(name, []byte(want))
}
