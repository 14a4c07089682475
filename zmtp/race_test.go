//go:build race

package zmtp

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// a Decoder taking its work from the pool may allocate.
const raceEnabled = true
