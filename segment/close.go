package segment

// CloseReason says why a connection ended: the TCP reassembler (flows)
// decides it, the ZMTP decoder (zmtp) copies it into its connection
// summary, and printers and the learning-mode analysis read it there.
type CloseReason uint8

// Reasons a connection ends.
const (
	Finished CloseReason = iota // both sides sent FIN
	Reset                       // a RST was seen
	Idle                        // no packet for the reassembler's idle timeout
	Flushed                     // the capture ended
	Reused                      // a new connection (a SYN with another ISN) took its ports
	Evicted                     // more connections than the reassembler keeps: the least recently active went
)

// String returns a lowercase word for the reason, as printed: "closed",
// "reset", "idle", "ports reused", "evicted (too many flows)" or "capture
// ended".
func (r CloseReason) String() string {
	switch r {
	case Finished:
		return "closed"
	case Reset:
		return "reset"
	case Idle:
		return "idle"
	case Reused:
		return "ports reused"
	case Evicted:
		return "evicted (too many flows)"
	}
	return "capture ended"
}
