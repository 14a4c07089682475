// Package flows turns captured TCP segments into ordered per-direction byte
// streams. It tracks connections keyed by their two endpoints, orders each
// direction by sequence number (wrapping at 2^32), buffers out-of-order
// segments up to a bound, feeds retransmitted bytes once, and reports bytes
// that can no longer arrive as exact gaps. It knows nothing of ZMTP: a
// Consumer made per connection by a Factory receives the bytes.
package flows
