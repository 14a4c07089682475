// Package output turns TCP segments and ZMTP events into what zmtpdump
// prints or writes: tcpdump-like text lines (with optional colours, time
// formats and hex dumps), JSON Lines, a conversation table, and pcapng files
// rebuilt from the captured segments. It knows nothing of the kernel or of
// how events were decoded.
package output
