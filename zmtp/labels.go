package zmtp

// SocketType returns the socket type the direction's sender announced (its
// 2.0 greeting or its READY or INITIATE's Socket-Type property, as sent),
// "" while none was seen (CURVE's is encrypted: never).
func (d *Decoder) SocketType() string { return d.sockType }

// Mechanism returns the security mechanism the direction's greeting named,
// "" before the greeting ("NULL" for 1.0 and 2.0).
func (d *Decoder) Mechanism() string { return d.mech }
