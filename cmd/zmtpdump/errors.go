package main

import "errors"

// errMidStream is reported for a direction whose start was not captured.
var errMidStream = errors.New("capture started mid-connection: no greeting seen, not decoding this direction")
