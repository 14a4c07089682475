package diagnose

import (
	"bytes"
	"net/netip"
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// Identities follows the identities clients announce to each server
// endpoint, across connections, and reports two open connections to one
// endpoint announcing the same one (duplicate-identity). It follows at most
// Config.MaxIdentities (65536 by default) connections that announced an identity or
// a server socket type, about 140 bytes each (map entry included; keys
// keep addresses and ports, the server's type is one of three), plus, for
// a client that announced an identity, the identity once and its entry
// among the clients announcing it. It is not safe for concurrent use.
type Identities struct {
	cfg   Config
	conns map[connKey]*identityConn
	byID  map[idKey][]netip.AddrPort // the clients announcing an identity to a server
}

type idKey struct {
	server netip.AddrPort
	id     string
}

// connKey is a connection, its endpoints as addresses and ports (an
// AddrPort pads its port to 8 bytes: 48 bytes here, not 64).
type connKey struct {
	clientAddr, serverAddr netip.Addr
	clientPort, serverPort uint16
}

func newConnKey(client, server netip.AddrPort) connKey {
	return connKey{client.Addr(), server.Addr(), client.Port(), server.Port()}
}

func (k connKey) client() netip.AddrPort { return netip.AddrPortFrom(k.clientAddr, k.clientPort) }
func (k connKey) server() netip.AddrPort { return netip.AddrPortFrom(k.serverAddr, k.serverPort) }

// identityConn is what one connection announced: 24 bytes.
type identityConn struct {
	identity   string // the client's, at most 255 bytes; "" until announced
	serverType uint8  // the server's socket type: noServerType until known
	reported   bool
}

// The server types an identityConn tells apart: only a ROUTER routes by
// identity.
const (
	noServerType uint8 = iota
	routerServer
	otherServer
)

// NewIdentities returns an empty follower of identities. Zero fields of
// cfg take DefaultConfig's values.
func NewIdentities(cfg Config) *Identities { return &Identities{cfg: cfg.withDefaults()} }

// Event looks at an event decoded from direction d of the connection from
// client to server (feed it every event, as Conn.Event) and returns the
// duplicate it shows, if any: nil, almost always, without allocation.
func (i *Identities) Event(client, server netip.AddrPort, d segment.Dir, t time.Time, ev zmtp.Event) []Problem {
	var id []byte
	var stype string
	switch e := ev.(type) {
	case *zmtp.Command:
		if e.Kind != zmtp.KindReady && e.Kind != zmtp.KindInitiate || e.Encrypted {
			return nil
		}
		for _, p := range e.Properties {
			switch {
			case bytes.EqualFold(p.Name, []byte("Identity")):
				id = p.Value
			case bytes.EqualFold(p.Name, []byte("Socket-Type")):
				stype = internType(p.Value)
			}
		}
	case *zmtp.Greeting:
		stype = e.SocketType
	case *zmtp.Identity:
		id = e.Data
	default:
		return nil
	}
	if d == segment.ServerToClient {
		id = nil
	}
	if stype == "" && len(id) == 0 {
		return nil
	}
	k := newConnKey(client, server)
	c := i.conns[k]
	if c == nil {
		// Only a ROUTER server or a client announcing an identity can
		// make a duplicate: other connections take no entry.
		if d == segment.ServerToClient && stype != "ROUTER" || d == segment.ClientToServer && len(id) == 0 {
			return nil
		}
		if len(i.conns) >= i.cfg.MaxIdentities {
			return nil
		}
		if i.conns == nil {
			i.conns = make(map[connKey]*identityConn)
			i.byID = make(map[idKey][]netip.AddrPort)
		}
		c = &identityConn{}
		i.conns[k] = c
	}
	if d == segment.ServerToClient {
		c.serverType = otherServer // stype is not "": id is nil
		if stype == "ROUTER" {
			c.serverType = routerServer
		}
		return i.check(k, c, t)
	}
	if c.identity != "" || len(id) == 0 {
		return nil // the first identity counts; an empty one is anonymous
	}
	c.identity = string(id[:min(len(id), 255)])
	ik := idKey{server, c.identity}
	i.byID[ik] = append(i.byID[ik], client)
	return i.check(k, c, t)
}

// check compares a connection's identity with the other open connections
// to its server endpoint. Only a ROUTER (or a server of unknown type)
// routes by identity.
func (i *Identities) check(k connKey, c *identityConn, t time.Time) []Problem {
	if c.reported || c.identity == "" || c.serverType == otherServer {
		return nil
	}
	for _, other := range i.byID[idKey{k.server(), c.identity}] {
		ok := newConnKey(other, k.server())
		o := i.conns[ok]
		if ok == k || o == nil {
			continue
		}
		if o.serverType == otherServer {
			continue
		}
		if c.serverType == noServerType && o.serverType == noServerType {
			continue // wait for the server's READY: it may not route by identity
		}
		c.reported = true
		id := printable([]byte(c.identity))
		other := i.cfg.endName(ok.client())
		return []Problem{{
			Kind: DuplicateIdentity, Time: t, Client: k.client(), Server: k.server(), From: segment.ClientToServer,
			Text: "the client announces the identity \"" + id + "\" that the open connection from " + other +
				" to the same ROUTER already announced: libzmq refuses the second peer (or, with ZMQ_ROUTER_HANDOVER, disconnects the first)",
			Fields: []Field{{"identity", id}, {"other_client", other}},
		}}
	}
	return nil
}

// Close forgets the connection from client to server.
func (i *Identities) Close(client, server netip.AddrPort) {
	k := newConnKey(client, server)
	c := i.conns[k]
	if c == nil {
		return
	}
	delete(i.conns, k)
	if c.identity == "" {
		return
	}
	ik := idKey{server, c.identity}
	l := i.byID[ik]
	for j, cl := range l {
		if cl == client {
			l = append(l[:j], l[j+1:]...)
			break
		}
	}
	if len(l) == 0 {
		delete(i.byID, ik)
		return
	}
	i.byID[ik] = l
}
