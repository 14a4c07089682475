package segment

// Dir names a direction of a connection: the one vocabulary flows, zmtp
// and output share. The client is the endpoint that sent the SYN or, for a
// connection picked up mid-stream, the sender of the first segment seen.
type Dir uint8

// Directions. ClientToServer is 0 so that a Dir indexes per-direction
// arrays.
const (
	ClientToServer Dir = 0
	ServerToClient Dir = 1
)

// String returns "client to server" or "server to client".
func (d Dir) String() string {
	if d == ClientToServer {
		return "client to server"
	}
	return "server to client"
}

// Reverse returns the other direction.
func (d Dir) Reverse() Dir { return d ^ 1 }
