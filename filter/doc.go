// Package filter parses the capture filters zmtpdump accepts and matches
// TCP segments against them in userspace (for -r); the kernel program runs
// the same match for live captures.
package filter
