package unixcap

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Record types, as enum rec_type in bpf/ipc.c.
const (
	recData    = 1
	recConnect = 2
	recAccept  = 3
	recClose   = 4
	recGap     = 5 // the bytes up to Offset were sent, not shipped
)

// hdrLen is sizeof(struct rec_hdr) in bpf/ipc.c.
const hdrLen = 120

// record is a ring record's header, decoded (struct rec_hdr).
type record struct {
	TsNs     uint64
	Offset   uint64 // stream offset of the first data byte; a CLOSE's: the end
	CgroupID uint64
	Lost     uint64 // the kernel's lost-record count when it was written
	Sk, Peer uint64 // the sending sock and its peer (kernel addresses)
	Ino      uint64 // the sending socket's inode
	PeerIno  uint64 // the peer socket's inode, 0 if not yet accepted
	Path     pathKey
	Netns    uint32
	Server   bool // the sender is the accepted (server) end
	Len      uint32
	Tgid     uint32
	Type     uint8
	Comm     string
}

// decode reads a ring record: its header and data.
func decode(b []byte) (record, []byte, error) {
	var r record
	if len(b) < hdrLen {
		return r, nil, fmt.Errorf("ipc record of %d bytes: shorter than its header", len(b))
	}
	le := binary.LittleEndian
	r.TsNs = le.Uint64(b[0:])
	r.Offset = le.Uint64(b[8:])
	r.CgroupID = le.Uint64(b[16:])
	r.Lost = le.Uint64(b[24:])
	r.Sk = le.Uint64(b[32:])
	r.Peer = le.Uint64(b[40:])
	r.Ino = le.Uint64(b[48:])
	r.PeerIno = le.Uint64(b[56:])
	r.Path.Ino = le.Uint64(b[64:])
	r.Path.Dev = le.Uint32(b[72:])
	r.Netns = le.Uint32(b[76:])
	r.Server = b[80] != 0
	r.Len = le.Uint32(b[88:])
	r.Tgid = le.Uint32(b[92:])
	r.Type = b[96]
	comm := b[104:120]
	if i := bytes.IndexByte(comm, 0); i >= 0 {
		comm = comm[:i]
	}
	r.Comm = string(comm)
	if int(r.Len) > len(b)-hdrLen {
		return r, nil, fmt.Errorf("ipc record: %d data bytes announced, %d present", r.Len, len(b)-hdrLen)
	}
	return r, b[hdrLen : hdrLen+int(r.Len)], nil
}

// encode is decode's inverse, for tests.
func encode(r record, data []byte) []byte {
	b := make([]byte, hdrLen+len(data))
	le := binary.LittleEndian
	le.PutUint64(b[0:], r.TsNs)
	le.PutUint64(b[8:], r.Offset)
	le.PutUint64(b[16:], r.CgroupID)
	le.PutUint64(b[24:], r.Lost)
	le.PutUint64(b[32:], r.Sk)
	le.PutUint64(b[40:], r.Peer)
	le.PutUint64(b[48:], r.Ino)
	le.PutUint64(b[56:], r.PeerIno)
	le.PutUint64(b[64:], r.Path.Ino)
	le.PutUint32(b[72:], r.Path.Dev)
	le.PutUint32(b[76:], r.Netns)
	if r.Server {
		b[80] = 1
	}
	le.PutUint32(b[88:], uint32(len(data)))
	le.PutUint32(b[92:], r.Tgid)
	b[96] = r.Type
	copy(b[104:120], r.Comm)
	copy(b[hdrLen:], data)
	return b
}
