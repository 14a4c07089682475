// Package output turns TCP segments and ZMTP events into what zmtpdump
// prints: tcpdump-like text lines or JSON Lines. It knows nothing of the
// kernel or of how events were decoded.
package output
