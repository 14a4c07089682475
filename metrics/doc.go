// Package metrics keeps zmtpdump's Prometheus metrics (--metrics ADDR): what
// each ZMTP service carried (messages, message bytes, frames, counted
// commands, per direction), its connections, the bytes the capture lost,
// its problems and its request/reply round trips, plus the capture's own
// packet and ring-drop counters.
//
// # Services and labels
//
// A service is a label set: server (the listening endpoint, ip:port),
// client_socket_type, server_socket_type and mechanism (and pod and
// namespace with Config.PodLabels). Labels are per service, never per client
// port. Every zmtp_ series carries the service labels; those counted per
// direction (messages, bytes, frames, commands, gaps, lost bytes, resyncs)
// add direction (to_server, to_client); zmtp_commands_total adds command,
// zmtp_connections_total end, zmtp_problems_total kind. A socket type or
// mechanism that is not known (not seen, encrypted by CURVE, or a name the
// RFCs do not define) is "unknown". A pod or namespace that is not a
// Kubernetes name (RFC 1123; the pod's own files give them) is "", and a
// metric client_golang would refuse is left out of the scrape, never the
// scrape failed.
//
// The server end is known from a SYN or SYN-ACK; for a connection picked up
// mid-stream the session decides it (OpenUndecided, Decide: the --port
// filter, process attribution); until then the connection's labels settle
// only SettleAfter after it was first seen or at its end, under the server
// label "unknown", never a client's ip:port.
//
// A connection's labels are fixed once ("settled"): when both socket types
// are known, when it carried a message, when it ends, or at the first
// refresh SettleAfter after it was first seen, whichever comes first. Until
// then it shows in no series, so that its counts never move from one label
// set to another and no counter goes backwards. With Config.PodLabels a
// complete handshake or a message settles them only once the pod is known
// or the owners' look-up ended (Labels.OwnersDone).
//
// # Cardinality
//
// At most Config.MaxServices label sets with a real server are kept; the
// connections of further services count under one more, whose labels are
// all "other" (server="other", ...), and
// zmtpdump_metrics_series_folded_total counts those connections. A service
// with no open connection that counted nothing new for Config.Expire is
// dropped (its series end) and frees its place; a service with an open
// connection never is, so its counters stay monotonic however long the
// capture. Services known only from refused attempts (Registry.Problem)
// have MaxRefused places of their own and expire after RefusedExpire.
//
// # Concurrency and cost
//
// A Conn has two sides. Its owner (the goroutine that decodes the
// connection) counts round trips and problems in fields of its own, with no
// lock, and publishes them with the connection's counts (State) in Update,
// when the Registry's refresh function asks for it, and in Close; Update
// and Close take the Registry's lock once. Nothing is done per message.
// Collect (one scrape at a time) calls the refresh function, then sums, under
// the lock, the totals folded from closed connections and the states
// published by open ones: a connection's counts move from its published
// state into its service's totals at its close, so a counter never goes
// backwards when a connection closes.
//
// Imports: segment (directions, close reasons), zmtp (Counts) and diagnose
// (problem kinds) of our packages, and github.com/prometheus/client_golang.
// Session feeds it; the command names the flags.
package metrics
