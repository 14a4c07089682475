//go:build !race

package zmtp

// raceEnabled: see race_test.go.
const raceEnabled = false
