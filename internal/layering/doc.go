// Package layering holds no code: its test reads the module's import graph
// (go list) and checks it against the one-way flow the README's "How it
// works" draws. Every package of the module must be listed in the test's
// table with the packages of ours it may import; a new package, or a new
// import that goes against the flow, fails the test until the table (and
// the package's doc.go "Imports:" paragraph) says why it is right.
//
// Imports: nothing.
package layering
