package output

import (
	"net/netip"
	"strconv"

	"github.com/zmtpdump/zmtpdump/segment"
)

// AppendEnd appends how zmtpdump names the endpoint ap of a line: for TCP
// (ipc nil, or ap not one of segment.IPCAddr's) its address, "10.0.0.1:7001";
// for an end of the ipc:// connection ipc, the process that sends on it,
// "pid 123 (zmqpeer)", and for the server (accepting) end that process
// and the path the socket is bound at, "pid 456 (zmqpeer) /run/app/x.ipc".
// An end no send has been seen from yet (a connection joined mid-stream)
// is named by its socket inode as /proc/PID/fd shows it,
// "socket:[81234]". The command name and the path are escaped as
// AppendEscaped does, so that the name is printable ASCII.
func AppendEnd(b []byte, ap netip.AddrPort, ipc *segment.IPC) []byte {
	inode, server, ok := segment.IsIPCAddr(ap)
	if ipc == nil || !ok {
		return ap.AppendTo(b)
	}
	pid, comm := ipc.ClientPID, ipc.ClientComm
	if server {
		pid, comm = ipc.ServerPID, ipc.ServerComm
	}
	if pid > 0 {
		b = append(b, "pid "...)
		b = strconv.AppendInt(b, int64(pid), 10)
		b = append(b, " ("...)
		b = AppendEscaped(b, comm)
		b = append(b, ')')
	} else {
		b = append(b, "socket:["...)
		b = strconv.AppendUint(b, inode, 10)
		b = append(b, ']')
	}
	if server {
		b = append(b, ' ')
		b = AppendEscaped(b, ipc.Path)
	}
	return b
}

// EndName returns AppendEnd's name of ap as a string.
func EndName(ap netip.AddrPort, ipc *segment.IPC) string {
	return string(AppendEnd(nil, ap, ipc))
}

// appendEnds appends "src > dst" as AppendEnd names them.
func appendEnds(b []byte, src, dst netip.AddrPort, ipc *segment.IPC) []byte {
	b = AppendEnd(b, src, ipc)
	b = append(b, " > "...)
	return AppendEnd(b, dst, ipc)
}

// appendJSONIPC appends, for an event of an ipc connection, its transport
// and path: `,"transport":"ipc","path":"/run/app/x.ipc"`; nothing for TCP,
// whose events carry no "transport" (it is "tcp" when absent). The path is
// the text src and dst end with (PathText), JSON-escaped once.
func appendJSONIPC(b []byte, ipc *segment.IPC) []byte {
	if ipc == nil {
		return b
	}
	b = append(b, `,"transport":"ipc","path":"`...)
	for i := 0; i < len(ipc.Path); i++ { // PathText, JSON-escaped, with no copy
		switch c := ipc.Path[i]; {
		case c == '\\':
			b = append(b, `\\\\`...)
		case c == '"':
			b = append(b, `\"`...)
		case c >= 0x20 && c < 0x7f:
			b = append(b, c)
		default:
			b = append(b, '\\', '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		}
	}
	return append(b, '"')
}

// PathText returns an ipc path as the names of ends show it: printable
// ASCII, every other byte as \xNN and a backslash doubled (AppendEscaped),
// so that it is valid UTF-8 whatever the path's bytes (a metrics label).
func PathText(path string) string { return string(AppendEscaped(nil, path)) }
