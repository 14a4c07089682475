package segment

import "testing"

func TestIPCAddrRoundTrip(t *testing.T) {
	for _, server := range []bool{true, false} {
		a := IPCAddr(0x0123456789abcdef, server)
		if got := a.Addr().String(); got != "fd7a:6970:6300:0:123:4567:89ab:cdef" {
			t.Errorf("addr = %s", got)
		}
		inode, srv, ok := IsIPCAddr(a)
		if !ok || inode != 0x0123456789abcdef || srv != server {
			t.Errorf("IsIPCAddr(%v) = %d %v %v", a, inode, srv, ok)
		}
	}
	if IPCAddr(7, true).Port() != 1 || IPCAddr(7, false).Port() != 2 {
		t.Error("ports: server 1, client 2")
	}
	if _, _, ok := IsIPCAddr(IPCAddr(7, true)); !ok {
		t.Error("not recognized")
	}
}
