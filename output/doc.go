// Package output turns TCP segments and ZMTP events into what zmtpdump
// prints or writes: tcpdump-like text lines (with optional colours, time
// formats and hex dumps), JSON Lines, a conversation table, and pcapng files
// rebuilt from the captured segments. It knows nothing of the kernel or of
// how events were decoded.
//
// Every printer implements Printer, the one contract: a Line (direction,
// time, endpoints, owners, notes) and an event per call, nothing pushed in
// beside it.
//
// Imports: capture and zmtp, of our packages; it must not import flows,
// loader or session (which import it).
package output
