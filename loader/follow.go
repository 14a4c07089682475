package loader

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Interface is an interface captured on, as the namespace captured in
// describes it.
type Interface struct {
	// Name is the interface's name: any bytes but '/' and NUL, to be
	// escaped before it is printed.
	Name string
	// Index is its index in the namespace captured in: the
	// Segment.Ifindex of its packets.
	Index int
	// RawIP: its packets have no link-layer header (a tun device,
	// ARPHRD_NONE); else they have an Ethernet header.
	RawIP bool
}

// InterfaceChange is an interface that a capture of AnyInterface began or
// stopped capturing on.
type InterfaceChange struct {
	Interface
	// Removed: the interface vanished and is no longer captured on.
	// Otherwise it came up and is captured on from now on, unless Err says
	// why it could not be.
	Removed bool
	Err     error
}

// ErrInterfaceGone is returned by CheckInterfaces when a named interface
// the capture is attached to no longer exists.
var ErrInterfaceGone = errors.New("interface vanished")

// follows reports whether cfg captures on AnyInterface, which follows
// interfaces as they come and go.
func follows(cfg Config) bool {
	return len(cfg.Interfaces) == 1 && cfg.Interfaces[0] == AnyInterface
}

// InterfaceList describes the interfaces captured on now.
func (c *Capture) InterfaceList() []Interface {
	out := make([]Interface, len(c.ifaces))
	for i, a := range c.ifaces {
		out[i] = a.describe()
	}
	return out
}

// InterfaceByIndex describes the interface captured on with the index in
// the namespace captured in; ok is false when none is captured on.
func (c *Capture) InterfaceByIndex(index int) (ifc Interface, ok bool) {
	for _, a := range c.ifaces {
		if a.index == index {
			return a.describe(), true
		}
	}
	return Interface{}, false
}

func (ifc iface) describe() Interface {
	return Interface{Name: ifc.name, Index: ifc.index, RawIP: ifc.l2len == 0}
}

// InterfaceCounts returns how many interfaces a capture of AnyInterface
// began capturing on after it started (added) and how many it stopped
// capturing on because they vanished (removed).
func (c *Capture) InterfaceCounts() (added, removed int) {
	return c.follow.added, c.follow.removed
}

// CheckInterfaces reports what changed among the interfaces captured on.
//
// With AnyInterface, Next attaches to interfaces as they come up and drops
// those deleted (or moved to another namespace) as rtnetlink's link events
// come; CheckInterfaces applies the events still pending and returns the
// changes made since its last call. An interface that came up but could
// not be attached to is reported with its error; the capture goes on.
//
// With named interfaces, it returns an error wrapping ErrInterfaceGone when
// one of them has been deleted or renamed (its programs went with it).
//
// It looks in the namespace captured in. It must not run concurrently with
// Next, itself or Close.
func (c *Capture) CheckInterfaces() ([]InterfaceChange, error) {
	if follows(c.cfg) {
		c.follow.apply(c)
		changes := c.follow.changes
		c.follow.changes = nil
		return changes, nil
	}
	for _, a := range c.ifaces {
		li, ok, err := c.nl.link(a.index)
		if err != nil {
			return nil, err
		}
		if !ok || li.name != a.name {
			return nil, fmt.Errorf("%s: %w during the capture", quoteName(a.name), ErrInterfaceGone)
		}
	}
	return nil, nil
}

// follow is what a capture of AnyInterface keeps to follow interfaces as
// they come and go. The zero value follows nothing.
type follow struct {
	watch *linkWatch
	// changes are those CheckInterfaces has not returned yet.
	changes        []InterfaceChange
	added, removed int
}

// startFollowing hands the link events of w (nil: none) to c, from now on
// applied by Next and CheckInterfaces, starting with those that came while
// c was being opened.
func (c *Capture) startFollowing(w *linkWatch) {
	if w == nil {
		return
	}
	c.follow.watch = w
	w.setWake(c.wake)
	c.follow.apply(c)
}

// wake makes a waiting Next look at the link events; any goroutine may
// call it.
func (c *Capture) wake() { c.rd.setDeadline(time.Now()) }

// stop ends the subscription to link events.
func (f *follow) stop() {
	f.watch.close()
	f.watch = nil
}

// apply attaches to the interfaces that came up and detaches from those
// that vanished since the last call, per the link events.
func (f *follow) apply(c *Capture) {
	if !f.watch.pending() {
		return
	}
	news, lost := f.watch.take()
	if lost {
		var err error
		if news, err = f.resync(c); err != nil {
			f.changes = append(f.changes, InterfaceChange{Err: fmt.Errorf("interfaces no longer followed: %w", err)})
			f.stop()
			return
		}
	}
	indexes := make([]int, 0, len(news))
	for index := range news {
		indexes = append(indexes, index)
	}
	slices.Sort(indexes)
	for _, index := range indexes {
		n := news[index]
		i := slices.IndexFunc(c.ifaces, func(a *attachment) bool { return a.index == index })
		switch {
		case n.gone && i >= 0:
			f.remove(c, i)
		case n.gone:
		case i >= 0 && c.ifaces[i].name != n.info.name:
			// Renamed, or deleted and another one created with its index
			// between two calls (the events keep only the latest news of
			// an index): its programs may have gone with the old one, so
			// it is attached to anew.
			f.remove(c, i)
			if n.info.flags&unix.IFF_UP != 0 {
				f.add(c, n.info)
			}
		case i >= 0:
		case n.info.flags&unix.IFF_UP != 0:
			f.add(c, n.info)
		}
	}
}

// add attaches to an interface that came up. One whose link type the
// program cannot parse is left out, as at the start.
func (f *follow) add(c *Capture, li linkInfo) {
	ifc, err := linkInterface(li)
	if err != nil {
		return
	}
	err = c.ns.run(func() error { return c.attach(ifc) })
	switch {
	case errors.Is(err, unix.ENODEV):
		// Gone again already: its deletion is on its way.
	case err != nil:
		f.changes = append(f.changes, InterfaceChange{Interface: ifc.describe(), Err: err})
	default:
		f.added++
		f.changes = append(f.changes, InterfaceChange{Interface: ifc.describe()})
	}
}

// remove detaches from c.ifaces[i], which vanished.
func (f *follow) remove(c *Capture, i int) {
	a := c.ifaces[i]
	err := a.close()
	c.ifaces = slices.Delete(c.ifaces, i, i+1)
	f.removed++
	f.changes = append(f.changes, InterfaceChange{Interface: a.describe(), Removed: true, Err: err})
}

// resync subscribes again after the subscription ended (its socket
// overflowed: events were lost) and lists the interfaces anew: news of
// every one, and of the gone ones among those attached to.
func (f *follow) resync(c *Capture) (map[int]linkNews, error) {
	f.watch.close()
	f.watch = nil
	var links []linkInfo
	err := c.ns.run(func() error {
		var err error
		if f.watch, err = watchLinks(); err != nil {
			return err
		}
		links, err = c.nl.links()
		return err
	})
	if err != nil {
		return nil, err
	}
	f.watch.setWake(c.wake)
	news := make(map[int]linkNews, len(links))
	for _, li := range links {
		news[li.index] = linkNews{info: li}
	}
	for _, a := range c.ifaces {
		if _, ok := news[a.index]; !ok {
			news[a.index] = linkNews{gone: true}
		}
	}
	return news, nil
}

// linkNews is the latest that link events said of one interface.
type linkNews struct {
	info linkInfo
	gone bool
}

// linkWatch is a subscription to the link events of one namespace. A
// goroutine reads them as they come, so that the socket does not
// overflow, and keeps the latest of each interface for apply.
type linkWatch struct {
	done     chan struct{} // closed to end the subscription
	stopOnce sync.Once
	finished chan struct{} // closed when the goroutine has ended
	mu       sync.Mutex
	news     map[int]linkNews // by index
	lost     bool             // the subscription ended by itself
	wakeFn   func()
}

// watchLinks subscribes to the link events of the calling thread's
// namespace.
func watchLinks() (*linkWatch, error) {
	w := &linkWatch{done: make(chan struct{}), finished: make(chan struct{}), news: make(map[int]linkNews)}
	ch := make(chan netlink.LinkUpdate, 64)
	if err := netlink.LinkSubscribeWithOptions(ch, w.done, netlink.LinkSubscribeOptions{}); err != nil {
		return nil, fmt.Errorf("subscribe to link events: %w", err)
	}
	go w.run(ch)
	return w, nil
}

// run folds the events of ch into w.news until the subscription ends:
// when w.done is closed, or when the socket fails (it overflowed), and
// then w.lost says so.
func (w *linkWatch) run(ch <-chan netlink.LinkUpdate) {
	defer close(w.finished)
	for u := range ch {
		if u.Link == nil {
			continue
		}
		li := linkInfoOf(u.Attrs())
		li.index, li.typ, li.flags = int(u.IfInfomsg.Index), u.IfInfomsg.Type, u.IfInfomsg.Flags
		w.note(func() { w.news[li.index] = linkNews{info: li, gone: u.Header.Type == unix.RTM_DELLINK} })
	}
	select {
	case <-w.done:
	default:
		w.note(func() { w.lost = true })
	}
}

// note changes w under its lock, then wakes the reader.
func (w *linkWatch) note(change func()) {
	w.mu.Lock()
	change()
	wake := w.wakeFn
	w.mu.Unlock()
	if wake != nil {
		wake()
	}
}

// setWake sets what is called after each event.
func (w *linkWatch) setWake(wake func()) {
	w.mu.Lock()
	w.wakeFn = wake
	w.mu.Unlock()
}

// pending reports whether events wait; false for nil.
func (w *linkWatch) pending() bool {
	if w == nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.news) > 0 || w.lost
}

// take returns the events since the last call and whether some were lost.
func (w *linkWatch) take() (news map[int]linkNews, lost bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	news, lost = w.news, w.lost
	w.news, w.lost = make(map[int]linkNews), false
	return news, lost
}

// close ends the subscription and waits for its goroutine; nil is closed,
// and so is one closed before.
func (w *linkWatch) close() {
	if w == nil {
		return
	}
	w.setWake(nil)
	w.stopOnce.Do(func() { close(w.done) })
	<-w.finished
}
