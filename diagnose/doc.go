// Package diagnose names the problems ZeroMQ users otherwise find by reading
// packets: incompatible socket types, mismatched mechanisms, failed
// authentication (a CURVE client with the wrong server key), reconnect loops
// against a port nobody listens on, heartbeats that time out, receivers that
// stop reading, connections reset inside a message, duplicate routing ids,
// peers too old for each other, and a few MUST rules of the RFCs that the
// wire shows broken. A healthy conversation produces no problem.
//
// A Conn follows one connection: it is fed the decoded zmtp events (Event),
// the fact that a direction carried bytes (Traffic), the stalls flows reports
// (Stall) and the close (Close), and returns the problems each shows as they
// happen. At the end, Health gives the connection's figures: request/reply
// latency, heartbeat interval, time stalled, subscriptions; RoundTrips hands
// each round trip out as it is matched (the metrics' histogram). Refused follows
// SYNs answered by RST across connections (connect-refused), Identities the
// routing ids announced to each server endpoint (duplicate-identity), and
// Summary counts problems by kind with the connections they touched.
//
// Nothing here prints: a Problem is a zmtp.Event that output's printers show.
// Returned problem slices are owned by the caller.
//
// Imports: of our packages, segment (directions, close reasons, segments)
// and zmtp (the events it judges). Session wires it; output prints it.
package diagnose
