// Package accuracy measures how much of a damaged capture zmtpdump still
// decodes, and that it never makes anything up. It holds only tests.
//
// Its inputs are the real libzmq captures in testdata/lossy (see
// testdata/lossy/record.sh): one connection each, whole, recorded over a
// veth pair with an Ethernet MTU, so every TCP segment is at most 1448
// bytes. TestMain builds ./cmd/zmtpdump (CGO_ENABLED=0) into a temporary
// directory; every decode runs that binary as `zmtpdump -r FILE --json -s 64`
// and reads its JSON Lines.
//
// For each capture the tests
//
//   - decode it whole: the reference, every message of each direction with
//     its stream offset, its extent on the wire and its frames (size, MORE,
//     first 64 bytes);
//   - make lossy variants of it in memory and write them as pcap files:
//     "drop", 2% of the segments carrying data dropped at random (fixed
//     seeds); "cut", everything before a cut point dropped, as if the
//     capture started mid-connection (right after the handshake, at a
//     third and two thirds of the packets, inside a 70 KB frame); "both",
//     a cut and then 2% dropped;
//   - decode each variant and count, per direction, the reference messages
//     wholly captured (every byte of the message is in a segment the
//     variant kept, computed from TCP sequence numbers), those of them
//     decoded (at the right offset with the right frames), and the phantoms:
//     messages decoded that the sender never sent (no reference message at
//     that offset with those frames, or one decoded twice).
//
// The targets: decoded / wholly captured at least 98% for each capture and
// kind of variant (TestRecall), and zero phantoms in every variant
// (TestNoPhantoms). TestReference checks the harness itself on the
// untouched captures (every message found, none extra).
//
// A variant's offsets count from the first byte zmtpdump saw of a direction
// (the byte after the SYN, or the first segment kept after a cut); the
// harness maps them back to the reference through the sequence numbers:
// the reference offset of the byte with sequence number seq is
// seq − ISN − 1 (modulo 2^32), see streamMap and decoderBase.
//
// Run it with
//
//	go test -v ./accuracy/
//
// which logs the figures of every variant and ends with a table (also
// printed without -v by -accuracy.report; -accuracy.keep DIR keeps the
// variant pcaps in DIR to look at with zmtpdump or tcpdump). It needs no
// root and no network: it reads files.
//
// Imports: nothing of ours in its code; its tests read captures with
// pcapfile and decode them with flows and zmtp, as zmtpdump -r does.
package accuracy
