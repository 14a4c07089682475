package zmtp

import "errors"

// Sentinel errors wrapped by the Err field of an *Error event and returned by
// Decoder.Err. Test for them with errors.Is; the wrapping error says what was
// seen and where.
var (
	// ErrBadSignature reports a greeting whose signature is not
	// %xFF padding %x7F (RFC 23, "The Greeting").
	ErrBadSignature = errors.New("bad greeting signature")

	// ErrUnsupportedVersion reports an undefined version octet (0) after
	// the signature.
	ErrUnsupportedVersion = errors.New("unsupported protocol version")

	// ErrReservedFlags reports a frame whose flags byte has any of bits 7-3
	// set (RFC 23, "Framing": they MUST be zero).
	ErrReservedFlags = errors.New("reserved flag bits set")

	// ErrCommandMore reports a command frame with the MORE flag set (RFC 23,
	// "Framing": the bit SHALL be zero on command frames).
	ErrCommandMore = errors.New("command frame with more flag")

	// ErrFrameTooLarge reports a long frame size above 2^63-1 (RFC 23,
	// "Framing": a long frame has a body of 0 to 2^63-1 octets).
	ErrFrameTooLarge = errors.New("frame size above 2^63-1")

	// ErrMalformedCommand reports a command body that does not follow the
	// grammar of RFC 23: an empty body or name, a name or property running
	// past the end of the body, an empty property name, a property value
	// length above 2^31-1, or an ERROR whose reason is missing or overruns;
	// or of RFC 37 (PING, PONG), RFC 24 (PLAIN HELLO) or RFC 26 (CURVE
	// command sizes).
	ErrMalformedCommand = errors.New("malformed command")

	// ErrMechanismMismatch reports a 3.x greeting naming another mechanism
	// than the peer's (RFC 23, "Authentication and Confidentiality": "If
	// the mechanism that the peer received does not exactly match the
	// mechanism it sent, it MUST close the connection").
	ErrMechanismMismatch = errors.New("mechanism mismatch")

	// ErrBadLength reports a ZMTP 1.0 frame length of 0 (RFC 13: "the
	// minimum valid length of a frame is 1 octet").
	ErrBadLength = errors.New("invalid frame length")

	// ErrOutOfSync reports bytes lost (Decoder.Gap) or not captured
	// (Decoder.Skip) where the decoder cannot tell where the next frame
	// starts: anywhere but inside a message frame body.
	ErrOutOfSync = errors.New("out of sync")
)
