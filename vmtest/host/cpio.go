package main

import (
	"fmt"
	"io"
	"os"
)

// cpioWriter writes the "newc" cpio format that the kernel unpacks as an
// initramfs: per entry a 110-byte ASCII header, the name (NUL-terminated,
// padded to 4 bytes), the data (padded to 4 bytes); then a "TRAILER!!!"
// entry.
type cpioWriter struct {
	w   io.Writer
	ino uint32
	err error
}

// File-type bits of a cpio mode (as in stat's st_mode).
const (
	cpioDir  = 0o040000
	cpioReg  = 0o100000
	cpioChar = 0o020000
)

func (c *cpioWriter) entry(name string, mode uint32, rdevMajor, rdevMinor uint32, data []byte) {
	if c.err != nil {
		return
	}
	c.ino++
	nlink := 1
	if mode&0o170000 == cpioDir {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		c.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdevMajor, rdevMinor, len(name)+1, 0)
	buf := append([]byte(hdr), name...)
	buf = append(buf, 0)
	buf = pad4(buf)
	buf = append(buf, data...)
	buf = pad4(buf)
	_, c.err = c.w.Write(buf)
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// Dir adds a directory.
func (c *cpioWriter) Dir(name string) { c.entry(name, cpioDir|0o755, 0, 0, nil) }

// File adds a regular file with the given permission bits.
func (c *cpioWriter) File(name string, perm uint32, data []byte) {
	c.entry(name, cpioReg|perm, 0, 0, data)
}

// CopyFile adds the file at path as name.
func (c *cpioWriter) CopyFile(name string, perm uint32, path string) {
	data, err := os.ReadFile(path)
	if err != nil && c.err == nil {
		c.err = err
	}
	c.File(name, perm, data)
}

// CharDev adds a character device node.
func (c *cpioWriter) CharDev(name string, perm, major, minor uint32) {
	c.entry(name, cpioChar|perm, major, minor, nil)
}

// Close writes the trailer and returns the first error.
func (c *cpioWriter) Close() error {
	c.entry("TRAILER!!!", 0, 0, 0, nil)
	return c.err
}
