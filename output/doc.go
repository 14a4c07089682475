// Package output turns TCP segments and ZMTP events into what zmtpdump
// prints: tcpdump-like text lines (with optional colours, time formats and
// hex dumps), JSON Lines and a conversation table. It prints the notes of
// learning mode (Note) and a drawn ladder (Printer.Drawing) but does not
// make them: package learn does. It knows nothing of the kernel or of how
// events were decoded.
//
// Every printer implements Printer, the one contract: a Line (direction,
// time, endpoints, owners, notes) and an event per call, nothing pushed in
// beside it.
//
// Problems (package diagnose) are events too: a *diagnose.Problem prints
// as a "problem:" line or a "problem" JSON object, a connection's
// diagnose.Health follows its summary (Line.Health), and the exit summary
// of problems by kind is WriteProblemsText and AppendProblemsJSON.
//
// Imports: of our packages, zmtp (the events), segment (segments, the
// direction, the close reason, an ipc connection's ends) and diagnose
// (problems and health figures); beyond the standard library only
// golang.org/x/sys/cpu (on amd64, whether the CPU has SSSE3 for the spaced
// hex).
// It must not import learn, flows, session or the capture sources (loader,
// pcapfile), which import it or sit beside it.
package output
