package loader

import (
	"errors"
	"fmt"
	"slices"

	"github.com/cilium/ebpf"

	"github.com/zmtpdump/zmtpdump/bpf"
	"github.com/zmtpdump/zmtpdump/filter"
)

// plan is what loading one set of capture programs takes.
type plan struct {
	// cfg is the capture's Config, with defaults (Config.withDefaults).
	cfg Config
	// full loads the program with bpf_loop, else CaptureBasic.
	full bool
	// l2len is the link-layer header length of the interfaces the set is
	// for: 14 (Ethernet) or 0 (raw IP).
	l2len int
	// loIndex is the loopback interface's index in the namespace captured
	// in.
	loIndex int
	// share, if not nil, holds the maps to use instead of new ones (those
	// of the capture's first set).
	share *bpf.CaptureObjects
	// progs names the programs to load (each costs a verifier run); nil
	// loads them all.
	progs []string
}

// loadObjects loads the capture programs and their maps as p says, with
// the filter of p.cfg spliced in, into objs.
func loadObjects(objs *bpf.CaptureObjects, p plan) error {
	load := bpf.LoadCaptureBasic
	switch {
	case counts(p.cfg, p.full):
		load = bpf.LoadCaptureCount
	case p.full:
		load = bpf.LoadCapture
	}
	spec, err := load()
	if err != nil {
		return fmt.Errorf("load eBPF spec: %w", err)
	}
	if err := p.editSpec(spec); err != nil {
		return err
	}
	if p.progs != nil {
		for name := range spec.Programs {
			if !slices.Contains(p.progs, name) {
				delete(spec.Programs, name)
			}
		}
	}
	if err := p.spliceFilter(spec); err != nil {
		return err
	}
	var opts ebpf.CollectionOptions
	if p.share != nil {
		opts.MapReplacements = map[string]*ebpf.Map{
			bpf.CaptureMapEvents:    p.share.Events,
			bpf.CaptureMapPorts:     p.share.Ports,
			bpf.CaptureMapStaging:   p.share.Staging,
			bpf.CaptureMapCounters:  p.share.Counters,
			bpf.CaptureMapLostTotal: p.share.LostTotal,
			bpf.CaptureMapFlowstate: p.share.Flowstate,
			bpf.CaptureMapElide:     p.share.Elide,
		}
	}
	coll, err := ebpf.NewCollectionWithOptions(spec, opts)
	if err != nil {
		var verr *ebpf.VerifierError
		if errors.As(err, &verr) {
			return fmt.Errorf("the kernel's verifier refused the capture program: %w", err)
		}
		return permissionError("load the eBPF capture program", err)
	}
	assignObjects(objs, coll)
	if p.share == nil {
		for _, port := range p.cfg.Ports {
			if err := objs.Ports.Put(uint32(port), uint8(1)); err != nil {
				objs.Close()
				return fmt.Errorf("set port %d: %w", port, err)
			}
		}
	}
	return nil
}

// editSpec sizes the maps of spec and sets its constants: the ring,
// one staging slot per CPU, the flow states (one when the program does not
// walk frames), and the link-layer header length, ports, loopback index,
// wake-up threshold and framing of p.
func (p plan) editSpec(spec *ebpf.CollectionSpec) error {
	walk, keep, states, counting, elide := uint8(0), uint32(0), uint32(1), uint8(0), uint32(1)
	if walks(p.cfg, p.full) {
		walk, keep, states = 1, uint32(max(p.cfg.FrameKeep, 0)), uint32(p.cfg.FlowStates)
	}
	if counts(p.cfg, p.full) {
		counting, elide = 1, uint32(p.cfg.FlowStates)
	}
	spec.Maps[bpf.CaptureMapFlowstate].MaxEntries = states
	spec.Maps[bpf.CaptureMapElide].MaxEntries = elide
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		return fmt.Errorf("count CPUs: %w", err)
	}
	spec.Maps[bpf.CaptureMapStaging].MaxEntries = uint32(ncpu)
	spec.Maps[bpf.CaptureMapEvents].MaxEntries = uint32(p.cfg.RingSize)
	all := uint8(0)
	if len(p.cfg.Ports) == 0 {
		all = 1
	}
	for name, v := range map[string]any{
		bpf.CaptureVarL2Len:           uint32(p.l2len),
		bpf.CaptureVarMatchAllPorts:   all,
		bpf.CaptureVarLoopbackIfindex: uint32(p.loIndex),
		bpf.CaptureVarWakeupBytes:     wakeupBytes(p.cfg.RingSize),
		bpf.CaptureVarFrameWalk:       walk,
		bpf.CaptureVarFrameKeep:       keep,
		bpf.CaptureCountVarCountOnly:  counting,
	} {
		if spec.Variables[name] == nil && counting == 0 {
			continue // count_only: only CaptureCount has it
		}
		if err := spec.Variables[name].Set(v); err != nil {
			return fmt.Errorf("set %s: %w", name, err)
		}
	}
	return nil
}

// spliceFilter replaces, in every program of spec, the body of the
// placeholder function filter.Symbol with the filter p.cfg gives for the
// link type of p.l2len; without a filter the placeholder (accept every
// packet) stays.
func (p plan) spliceFilter(spec *ebpf.CollectionSpec) error {
	if p.cfg.Filter == nil {
		return nil
	}
	lt := filter.Ethernet
	if p.l2len == 0 {
		lt = filter.RawIP
	}
	flt, err := p.cfg.Filter(lt)
	if err != nil {
		return err
	}
	for _, prog := range spec.Programs {
		if prog.Instructions, err = flt.Splice(prog.Instructions, filter.Symbol); err != nil {
			return fmt.Errorf("program %s: %w", prog.Name, err)
		}
	}
	return nil
}

// assignObjects moves the maps and programs of coll that objs names into
// it (programs not loaded stay nil) and closes the rest of coll (the
// programs keep what they use).
func assignObjects(objs *bpf.CaptureObjects, coll *ebpf.Collection) {
	take := func(dst **ebpf.Map, name string) {
		*dst = coll.Maps[name]
		delete(coll.Maps, name)
	}
	take(&objs.Events, bpf.CaptureMapEvents)
	take(&objs.Ports, bpf.CaptureMapPorts)
	take(&objs.Staging, bpf.CaptureMapStaging)
	take(&objs.Counters, bpf.CaptureMapCounters)
	take(&objs.LostTotal, bpf.CaptureMapLostTotal)
	take(&objs.Flowstate, bpf.CaptureMapFlowstate)
	take(&objs.Elide, bpf.CaptureMapElide)
	for name, dst := range map[string]**ebpf.Program{
		bpf.CaptureProgCaptureIngress: &objs.CaptureIngress,
		bpf.CaptureProgCaptureEgress:  &objs.CaptureEgress,
		bpf.CaptureProgCaptureSocket:  &objs.CaptureSocket,
	} {
		*dst = coll.Programs[name]
		delete(coll.Programs, name)
	}
	coll.Close()
}

// loadSets loads a program set for each link-layer header length among
// ifaces, the first owning the maps, for backend (Auto: not decided yet,
// every program).
func (c *Capture) loadSets(backend Backend, ifaces []iface) error {
	for _, ifc := range ifaces {
		if c.sets[ifc.l2len] != nil {
			continue
		}
		var same []iface
		for _, o := range ifaces {
			if o.l2len == ifc.l2len {
				same = append(same, o)
			}
		}
		if follows(c.cfg) {
			// Interfaces that come up later may need every program.
			same = append(same, iface{l2len: ifc.l2len})
		}
		if err := c.loadSet(ifc.l2len, programsFor(backend, same)); err != nil {
			return err
		}
	}
	return nil
}

// programSet returns the programs for interfaces whose link-layer header
// is l2len bytes long, loaded on first use (an interface that came up
// later may have a kind none had at the start); they share the maps of
// the first set.
func (c *Capture) programSet(l2len int) (*bpf.CaptureObjects, error) {
	if objs := c.sets[l2len]; objs == nil {
		if err := c.loadSet(l2len, programsFor(c.backend, []iface{{l2len: l2len}})); err != nil {
			return nil, err
		}
	}
	return c.sets[l2len], nil
}

// loadSet loads the programs progs for a link-layer header of l2len bytes
// into c.sets, with the maps of c.first (the first set loaded owns them).
func (c *Capture) loadSet(l2len int, progs []string) error {
	objs := new(bpf.CaptureObjects)
	p := plan{cfg: c.cfg, full: c.full, l2len: l2len, loIndex: c.loIndex, share: c.first, progs: progs}
	if err := loadObjects(objs, p); err != nil {
		return err
	}
	c.sets[l2len] = objs
	if c.first == nil {
		c.first = objs
	}
	return nil
}
