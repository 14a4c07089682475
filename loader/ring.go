package loader

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// BPF ring buffer record header (include/uapi/linux/bpf.h): a 32-bit length
// with two flag bits, then 4 bytes the kernel uses; records are 8-byte
// aligned.
const (
	ringHdrLen     = 8
	ringBusyBit    = 1 << 31 // the producer has not committed the record yet
	ringDiscardBit = 1 << 30 // the producer discarded it: skip it
)

// errRingClosed is returned by ring.read once the ring was closed.
var errRingClosed = errors.New("ring buffer closed")

// ring reads a BPF ring buffer map in place: a record handed out stays in
// the mapped ring, valid until the next read, which gives its space back
// to the kernel. Waiting goes through Go's network poller on the map's
// file descriptor, so that a reader parked on an idle ring holds no thread
// in a system call (the runtime then sleeps too).
type ring struct {
	meta, data []byte   // the mappings: consumer page; producer page and data twice
	cons, prod *uintptr // consumer and producer positions, in meta and data
	buf        []byte   // the data area, mapped twice in a row: a record never wraps
	mask       uintptr
	next       uintptr // consumer position after the record handed out last
	f          *os.File
	rc         syscall.RawConn // f's, to wait in the poller
	closed     atomic.Bool
}

// newRing maps m, a BPF_MAP_TYPE_RINGBUF of size bytes.
func newRing(m *ebpf.Map, size int) (*ring, error) {
	page := os.Getpagesize()
	fd, err := unix.FcntlInt(uintptr(m.FD()), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("ring buffer: dup: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("ring buffer: %w", err)
	}
	r := &ring{f: os.NewFile(uintptr(fd), "ring buffer"), mask: uintptr(size - 1)}
	if r.meta, err = unix.Mmap(fd, 0, page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		r.close()
		return nil, fmt.Errorf("ring buffer: map the consumer page: %w", err)
	}
	if r.data, err = unix.Mmap(fd, int64(page), page+2*size, unix.PROT_READ, unix.MAP_SHARED); err != nil {
		r.close()
		return nil, fmt.Errorf("ring buffer: map the data pages: %w", err)
	}
	if r.rc, err = r.f.SyscallConn(); err != nil {
		r.close()
		return nil, fmt.Errorf("ring buffer: %w", err)
	}
	r.cons = (*uintptr)(unsafe.Pointer(&r.meta[0]))
	r.prod = (*uintptr)(unsafe.Pointer(&r.data[0]))
	r.buf = r.data[page:]
	r.next = atomic.LoadUintptr(r.cons)
	return r, nil
}

// peek returns the next committed record, after giving back the one handed
// out before; ok is false when there is none yet.
func (r *ring) peek() (rec []byte, ok bool) {
	cons := r.next
	// The store publishes that the last record's space is free again:
	// the kernel may write there from now on.
	atomic.StoreUintptr(r.cons, cons)
	for {
		if cons == atomic.LoadUintptr(r.prod) {
			return nil, false
		}
		// The length is loaded atomically: it is what the producer
		// writes last (clearing the busy bit) once the record is whole.
		hdr := atomic.LoadUint32((*uint32)(unsafe.Pointer(&r.buf[cons&r.mask])))
		if hdr&ringBusyBit != 0 {
			return nil, false // not committed yet: records stay in order
		}
		n := uintptr(hdr &^ (ringBusyBit | ringDiscardBit))
		end := cons + (ringHdrLen+n+7)&^7
		if hdr&ringDiscardBit != 0 {
			cons = end
			r.next = cons
			atomic.StoreUintptr(r.cons, cons)
			continue
		}
		start := (cons + ringHdrLen) & r.mask
		r.next = end
		return r.buf[start : start+n : start+n], true
	}
}

// ready reports whether a committed record waits.
func (r *ring) ready() bool {
	if r.next == atomic.LoadUintptr(r.prod) {
		return false
	}
	hdr := atomic.LoadUint32((*uint32)(unsafe.Pointer(&r.buf[r.next&r.mask])))
	return hdr&ringBusyBit == 0
}

// read returns the next record, waiting for one until the deadline (then
// os.ErrDeadlineExceeded) or until close (then errRingClosed).
func (r *ring) read() ([]byte, error) {
	for {
		if rec, ok := r.peek(); ok {
			return rec, nil
		}
		// The poller wakes us when the kernel signals the map's wait
		// queue (see wakeupBytes); the deadline covers the rest.
		if err := r.rc.Read(func(uintptr) bool { return r.ready() }); err != nil {
			return nil, r.closedOr(err)
		}
	}
}

func (r *ring) closedOr(err error) error {
	if r.closed.Load() || errors.Is(err, os.ErrClosed) {
		return errRingClosed
	}
	return err
}

// setDeadline makes a waiting or future read return at t.
func (r *ring) setDeadline(t time.Time) { _ = r.f.SetReadDeadline(t) }

// interrupt makes a waiting or future read return errRingClosed; it may
// be called from any goroutine, more than once.
func (r *ring) interrupt() {
	if r.closed.CompareAndSwap(false, true) {
		r.f.Close()
	}
}

// close interrupts and unmaps. No read may run during or after it.
func (r *ring) close() error {
	r.interrupt()
	var errs []error
	for _, m := range [][]byte{r.meta, r.data} {
		if m != nil {
			errs = append(errs, unix.Munmap(m))
		}
	}
	r.meta, r.data, r.buf = nil, nil, nil
	return errors.Join(errs...)
}
