// Package zmtp decodes the ZeroMQ Message Transport Protocol (ZMTP) from the
// two directions of a TCP connection.
//
// A Decoder is fed the bytes of one direction in stream order and turns them
// into typed events: a Greeting, an Identity (ZMTP 1.0 and 2.0), Commands
// (READY, ERROR, PING, PONG, SUBSCRIBE, CANCEL, the PLAIN and CURVE
// handshakes, any other by name), Messages made of Frames, and Errors. A Conn
// runs the two Decoders of a connection so that each knows what the other
// announced (version downgrades, mechanism mismatches) and emits a
// Connection summary when closed. The package does no I/O, keeps no clock and
// allocates nothing per message in steady state: the events it emits, and
// every slice inside them, are owned by the Decoder and valid only until the
// emit callback returns.
//
// Memory per Decoder is bounded by Options, never by a size read from the
// wire: frame bodies are kept up to Options.MaxBody bytes and the rest is
// counted and skipped. Bytes a capture left out are passed with Skip
// (inside a body), Gap (lost) or Elide (whole frames a kernel counted and
// did not ship: the decoder stays in place, and AddCounts takes their
// counts).
//
// The specifications are the ZeroMQ RFCs: 13 (ZMTP 1.0), 15 (ZMTP 2.0), 23
// (ZMTP 3.0), 37 (ZMTP 3.1), 24 (PLAIN) and 26 (CURVE). Each Command's
// Kind says which of their commands it is (CommandKind), from one table of
// the names the decoder knows; printers switch on it, not on the name.
//
// Imports: of our packages, only segment (the leaf vocabulary: the Dir of
// the two directions, a Connection's CloseReason). flows, output, learn
// and session build on zmtp; zmtp imports none of them.
package zmtp
