// Package learn is zmtpdump's learning mode: the analysis that explains a
// connection to someone learning ZMTP. An Explainer follows one
// connection's events and returns plain-English notes (output.Note) saying
// what each means, at which stage of the connection and where the RFCs say
// so (--explain); a Ladder records the same events and draws the
// connection as a text sequence diagram (--ladder) with AppendTo.
//
// learn decides what to say; output prints it: notes travel with the event
// they explain, and a drawn ladder goes to the printer as bytes
// (output.Text.Drawing), so that output needs no type of learn's.
//
// Problems (package diagnose's events) get a note per kind, the rule they
// show broken (Kind.Rule), and a row in the ladder; the ladder's title says
// the request/reply latency (Ladder.SetHealth).
//
// Imports: of our packages, output (Note, the stages and the quoting
// helpers), zmtp (the events), segment (the direction, the close reason,
// an ipc connection's ends)
// and diagnose (problems, health figures). output must not import learn;
// only session does.
package learn
