// Package zmtp decodes the ZeroMQ Message Transport Protocol (ZMTP) from one
// direction of a TCP connection.
//
// A Decoder is fed the bytes of one direction in stream order and turns them
// into typed events: a Greeting, Commands (READY, ERROR, any other by name),
// Messages made of Frames, and Errors. It does no I/O, keeps no clock and
// allocates nothing per message in steady state: the events it emits, and
// every slice inside them, are owned by the Decoder and valid only until the
// emit callback returns.
//
// Memory per Decoder is bounded by Options, never by a size read from the
// wire: frame bodies are kept up to Options.MaxBody bytes and the rest is
// counted and skipped.
//
// The specifications are the ZeroMQ RFCs: 23 (ZMTP 3.0) and 37 (ZMTP 3.1).
package zmtp
