// Package output turns TCP segments and ZMTP events into what zmtpdump
// prints: tcpdump-like text lines (with optional colours, time formats and
// hex dumps), JSON Lines and a conversation table. It prints the notes of
// learning mode (Note) and a drawn ladder (Text.Drawing) but does not make
// them: package learn does. It knows nothing of the kernel or of how
// events were decoded.
//
// Imports: of our packages, zmtp (the events) and capture (segments, the
// close reason). It must not import learn, flows or the capture sources
// (loader, pcapfile); learn imports output.
package output
