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
// Imports: of our packages, output (Note, the stages and the quoting
// helpers), zmtp (the events) and segment (the direction, the close
// reason). output must not import learn; only session does.
package learn
