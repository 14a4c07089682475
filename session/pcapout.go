package session

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/zmtpdump/zmtpdump/loader"
	"github.com/zmtpdump/zmtpdump/pcapfile"
	"github.com/zmtpdump/zmtpdump/segment"
)

// pcapOut is the pcapng file of -w. The file is created by start, once
// the source is open and its interfaces known, as tcpdump does.
type pcapOut struct {
	name   string    // the file, or "-" for stdout
	stdout io.Writer // used for "-"
	app    string    // the application the file names
	// comment is the section's comment ("": none): what the ipc
	// interface's packets are.
	comment string
	create  func(name string) (*os.File, error)
	file    *os.File // nil for stdout
	w       *pcapfile.Writer
	// flushed is when the file was last written out.
	flushed time.Time
	// commented holds the ipc connections' values (see ipcFeed) a packet
	// comment described already; a new value (a pid learnt) is described
	// again.
	commented map[*segment.IPC]bool
}

// write writes seg, the first packet of an ipc connection (and the first
// after its ends are better known) with a comment naming its path and
// processes.
func (o *pcapOut) write(seg *segment.Segment) error {
	if seg.IPC == nil || o.commented[seg.IPC] {
		return o.w.WriteSegment(seg)
	}
	if o.commented == nil || len(o.commented) >= ipcMaxViews {
		o.commented = make(map[*segment.IPC]bool)
	}
	o.commented[seg.IPC] = true
	return o.w.WriteSegmentComment(seg, ipcPacketComment(seg.IPC))
}

// flushEvery is how often a live capture writes the file out, so that it
// can be followed (tcpdump -r - reading a pipe, tail -f).
const flushEvery = time.Second

// start creates the file and writes the pcapng header and interfaces.
func (o *pcapOut) start(ifaces []pcapfile.Interface) error {
	dst := o.stdout
	if o.name != "-" {
		f, err := o.create(o.name)
		if err != nil {
			return fmt.Errorf("create pcapng file: %w", err)
		}
		o.file, dst = f, f
	}
	w, err := pcapfile.NewWriter(dst, pcapfile.WriterOptions{Application: o.app, Interfaces: ifaces, Comment: o.comment})
	if err != nil {
		return fmt.Errorf("%s: %w", o.name, err)
	}
	o.w, o.flushed = w, time.Now()
	return nil
}

// due reports whether the file should be written out now; false for a nil
// pcapOut.
func (o *pcapOut) due(now time.Time) bool {
	return o != nil && o.w != nil && now.Sub(o.flushed) >= flushEvery
}

// flush writes out what is buffered.
func (o *pcapOut) flush(now time.Time) error {
	o.flushed = now
	return o.w.Flush()
}

// close writes out what is buffered and closes the file.
func (o *pcapOut) close() error {
	var err error
	if o.w != nil {
		err = o.w.Flush()
	}
	if o.file != nil {
		if cerr := o.file.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close pcapng file: %w", cerr)
		}
	}
	return err
}

// pcapInterfaces describes the interfaces captured on as the namespace
// captured in knows them (with --netns, not as this one does): their
// index there, and raw IP for those without a link-layer header (tun,
// ARPHRD_NONE).
func pcapInterfaces(ifaces []loader.Interface, filter string) []pcapfile.Interface {
	out := make([]pcapfile.Interface, 0, len(ifaces))
	for _, ifc := range ifaces {
		out = append(out, pcapInterface(ifc, filter))
	}
	return out
}

// pcapInterface describes one interface captured on.
func pcapInterface(ifc loader.Interface, filter string) pcapfile.Interface {
	o := pcapfile.Interface{Name: ifc.Name, Index: ifc.Index, Filter: filter}
	if ifc.RawIP {
		o.Link = pcapfile.LinkRaw
	}
	return o
}
