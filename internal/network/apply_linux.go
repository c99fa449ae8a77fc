package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Undo applies plans and remembers how to take them back. The zero value is
// ready to use; one Undo may collect several plans (a lesson applies one per
// step and undoes them all at the end).
//
// What a plan created (a namespace, a link, a table) is deleted on undo, and
// what it did to those things needs no undoing of its own: an address or a
// route goes with its link, everything in a namespace goes with it. What a
// plan changed on things that were there before (a sysctl, an address on an
// existing link) is put back as it was.
type Undo struct {
	mu    sync.Mutex
	steps []undoStep
	// created holds what this Undo made: "ns:<path>", "link:<ns path>:<name>",
	// "table:<name>".
	created map[string]bool
	// tables remembers the last table applied under each name, so that a
	// later version can be undone by putting this one back.
	tables map[string]*Table
}

type undoStep struct {
	cmd string
	fn  func(h *handles) error
	// table is set on the steps that put back or delete a table: putting
	// back an older version is pointless when a later step deletes it.
	table  string
	delete bool
}

// Apply carries out the plan in order, telling trace each command before
// it runs it. If an action fails, what this plan did so far is undone (and
// traced) before Apply returns the error, so a failed plan leaves nothing
// half-made.
func (u *Undo) Apply(p Plan, trace Trace) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.created == nil {
		u.created, u.tables = map[string]bool{}, map[string]*Table{}
	}
	h := newHandles()
	defer h.close()
	mark := len(u.steps)
	var up []SetUp
	for _, a := range p {
		trace.log(a.Command())
		step, err := u.apply(h, a)
		if err != nil {
			return errors.Join(err, u.runFrom(h, mark, trace))
		}
		if step != nil {
			u.steps = append(u.steps, *step)
		}
		if a, ok := a.(SetUp); ok {
			up = append(up, a)
		}
	}
	h.waitRunning(up)
	return nil
}

// waitRunning waits, for a moment at most, until every link that was
// brought up and has a carrier is also running. A link's carrier comes on
// at once (a veth's when both ends are up), but the kernel attaches its
// transmit queue later, from the linkwatch work queue, under the same lock
// as the running flag; until then the link drops what it is given, and a
// connection's first packet is lost and retried a second later
// (net/core/link_watch.c, dev_activate).
func (h *handles) waitRunning(links []SetUp) {
	deadline := time.Now().Add(2 * time.Second)
	for _, l := range links {
		hl, err := h.at(l.NS)
		if err != nil {
			continue
		}
		for time.Now().Before(deadline) {
			link, err := hl.LinkByName(l.Link)
			if err != nil {
				break
			}
			f := link.Attrs().RawFlags
			if f&unix.IFF_LOWER_UP == 0 || f&unix.IFF_RUNNING != 0 {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
}

// Run undoes everything applied so far, last first, telling trace each
// command. It goes on past errors and returns them all; what it undid is
// forgotten, so calling Run again is safe.
func (u *Undo) Run(trace Trace) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	h := newHandles()
	defer h.close()
	return u.runFrom(h, 0, trace)
}

// Commands are the commands Run would run, in its order.
func (u *Undo) Commands() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []string
	for i := len(u.steps) - 1; i >= 0; i-- {
		if !u.deletedLater(i, 0) {
			out = append(out, u.steps[i].cmd)
		}
	}
	return out
}

func (u *Undo) runFrom(h *handles, mark int, trace Trace) error {
	var errs []error
	for i := len(u.steps) - 1; i >= mark; i-- {
		if u.deletedLater(i, mark) {
			continue
		}
		trace.log(u.steps[i].cmd)
		if err := u.steps[i].fn(h); err != nil {
			errs = append(errs, fmt.Errorf("undo: %s: %w", u.steps[i].cmd, err))
		}
	}
	u.steps = u.steps[:mark]
	return errors.Join(errs...)
}

// deletedLater reports whether step i puts back a table that a step run
// after it (an earlier one, down to mark) deletes.
func (u *Undo) deletedLater(i, mark int) bool {
	st := u.steps[i]
	if st.table == "" || st.delete {
		return false
	}
	for j := i - 1; j >= mark; j-- {
		if u.steps[j].table == st.table && u.steps[j].delete {
			return true
		}
	}
	return false
}

func nsKey(ns *NetNS) string {
	if ns == nil {
		return ""
	}
	return ns.Path
}

func linkKey(ns *NetNS, name string) string { return "link:" + nsKey(ns) + ":" + name }

// made reports whether this Undo created the link or the namespace it is in.
func (u *Undo) made(ns *NetNS, link string) bool {
	return (ns != nil && u.created["ns:"+ns.Path]) || u.created[linkKey(ns, link)]
}

func (u *Undo) apply(h *handles, a Action) (*undoStep, error) {
	switch a := a.(type) {
	case AddNetNS:
		if err := CreateNetNS(a.NS); err != nil {
			return nil, err
		}
		u.created["ns:"+a.NS.Path] = true
		return &undoStep{cmd: "ip netns delete " + a.NS.Name, fn: func(h *handles) error {
			h.forget(a.NS)
			return DeleteNetNS(a.NS)
		}}, nil

	case AddBridge:
		if err := checkOurLink(a.Name); err != nil {
			return nil, err
		}
		hl, err := h.at(nil)
		if err != nil {
			return nil, err
		}
		mac := a.MAC
		if mac == nil {
			mac = BridgeMAC(a.Name)
		}
		if err := hl.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: a.Name, HardwareAddr: mac}}); err != nil {
			return nil, explain(a.Command(), err, "bridge")
		}
		u.created[linkKey(nil, a.Name)] = true
		return delLinkStep(a.Name), nil

	case AddVeth:
		if err := checkOurLink(a.Name); err != nil {
			return nil, err
		}
		if err := CheckLinkName(a.Peer); err != nil {
			return nil, err
		}
		hl, err := h.at(nil)
		if err != nil {
			return nil, err
		}
		peerNS, err := a.PeerNS.open()
		if err != nil {
			return nil, err
		}
		defer peerNS.Close()
		veth := &netlink.Veth{
			LinkAttrs:     netlink.LinkAttrs{Name: a.Name},
			PeerName:      a.Peer,
			PeerNamespace: netlink.NsFd(int(peerNS.Fd())),
		}
		if a.PeerMAC != nil {
			veth.PeerHardwareAddr = a.PeerMAC
		}
		if err := hl.LinkAdd(veth); err != nil {
			return nil, explain(a.Command(), err, "veth")
		}
		u.created[linkKey(nil, a.Name)] = true
		u.created[linkKey(a.PeerNS, a.Peer)] = true
		return delLinkStep(a.Name), nil

	case SetMaster:
		return u.onHostLink(h, a.Link, a.Command(), "ip link set "+a.Link+" nomaster",
			func(hl *netlink.Handle, link netlink.Link) error {
				master, err := linkByName(hl, nil, a.Master)
				if err != nil {
					return err
				}
				return hl.LinkSetMaster(link, master)
			},
			func(hl *netlink.Handle, link netlink.Link) error { return hl.LinkSetNoMaster(link) })

	case SetHairpin:
		return u.onHostLink(h, a.Link, a.Command(), "bridge link set dev "+a.Link+" hairpin off",
			func(hl *netlink.Handle, link netlink.Link) error { return hl.LinkSetHairpin(link, true) },
			func(hl *netlink.Handle, link netlink.Link) error { return hl.LinkSetHairpin(link, false) })

	case SetUp:
		hl, err := h.at(a.NS)
		if err != nil {
			return nil, err
		}
		link, err := linkByName(hl, a.NS, a.Link)
		if err != nil {
			return nil, err
		}
		wasUp := link.Attrs().Flags&net.FlagUp != 0
		if err := hl.LinkSetUp(link); err != nil {
			return nil, explain(a.Command(), err, "")
		}
		if wasUp || u.made(a.NS, a.Link) {
			return nil, nil
		}
		return &undoStep{cmd: ipIn(a.NS) + " link set " + a.Link + " down", fn: func(h *handles) error {
			hl, err := h.at(a.NS)
			if err != nil {
				return ignoreGone(err)
			}
			return ignoreGone(hl.LinkSetDown(link))
		}}, nil

	case AddAddr, DelAddr:
		add := true
		var ns *NetNS
		var name string
		var pfx netip.Prefix
		switch a := a.(type) {
		case AddAddr:
			ns, name, pfx = a.NS, a.Link, a.Addr
		case DelAddr:
			add, ns, name, pfx = false, a.NS, a.Link, a.Addr
		}
		if !pfx.Addr().Is4() {
			return nil, fmt.Errorf("%s: only IPv4 addresses for now", a.Command())
		}
		hl, err := h.at(ns)
		if err != nil {
			return nil, err
		}
		link, err := linkByName(hl, ns, name)
		if err != nil {
			return nil, err
		}
		addr := &netlink.Addr{IPNet: prefixIPNet(pfx)}
		do := hl.AddrAdd
		undoCmd := fmt.Sprintf("%s addr del %s dev %s", ipIn(ns), pfx, name)
		if !add {
			do = hl.AddrDel
			undoCmd = fmt.Sprintf("%s addr add %s dev %s", ipIn(ns), pfx, name)
		}
		if err := do(link, addr); err != nil {
			return nil, explain(a.Command(), err, "")
		}
		if u.made(ns, name) {
			return nil, nil
		}
		return &undoStep{cmd: undoCmd, fn: func(h *handles) error {
			hl, err := h.at(ns)
			if err != nil {
				return ignoreGone(err)
			}
			if add {
				return ignoreGone(hl.AddrDel(link, addr))
			}
			return hl.AddrAdd(link, addr)
		}}, nil

	case AddRoute:
		hl, err := h.at(a.NS)
		if err != nil {
			return nil, err
		}
		r := &netlink.Route{Gw: net.IP(a.Via.AsSlice()), Family: netlink.FAMILY_V4}
		if a.Dst.IsValid() {
			r.Dst = prefixIPNet(a.Dst)
		}
		if err := hl.RouteAdd(r); err != nil {
			return nil, explain(a.Command(), err, "")
		}
		if a.NS != nil && u.created["ns:"+a.NS.Path] {
			return nil, nil
		}
		cmd := strings.Replace(a.Command(), " route add ", " route del ", 1)
		return &undoStep{cmd: cmd, fn: func(h *handles) error {
			hl, err := h.at(a.NS)
			if err != nil {
				return ignoreGone(err)
			}
			return ignoreGone(hl.RouteDel(r))
		}}, nil

	case Sysctl:
		old, err := ReadSysctl(a.Key)
		if err != nil {
			return nil, err
		}
		if err := WriteSysctl(a.Key, a.Value); err != nil {
			return nil, err
		}
		if dev, ok := sysctlDevice(a.Key); ok && u.made(nil, dev) {
			return nil, nil // it goes with the link
		}
		restore := Sysctl{Key: a.Key, Value: old}
		return &undoStep{cmd: restore.Command(), fn: func(*handles) error { return WriteSysctl(restore.Key, restore.Value) }}, nil

	case ApplyTable:
		name := a.Table.Name
		existed, err := TableExists(name)
		if err != nil {
			return nil, err
		}
		if err := ApplyTableNow(a.Table); err != nil {
			return nil, err
		}
		prev := u.tables[name]
		u.tables[name] = a.Table
		switch {
		case prev != nil:
			back := ApplyTable{Table: prev}
			return &undoStep{cmd: back.Command(), table: name, fn: func(*handles) error {
				u.tables[name] = prev
				return ApplyTableNow(prev)
			}}, nil
		case !existed:
			u.created["table:"+name] = true
			return &undoStep{cmd: DeleteTable{Name: name}.Command(), table: name, delete: true, fn: func(*handles) error {
				delete(u.tables, name)
				return DeleteTableNow(name)
			}}, nil
		}
		return nil, nil // a table of ours that this Undo did not make: see Store

	case DeleteTable:
		if err := DeleteTableNow(a.Name); err != nil {
			return nil, err
		}
		if prev := u.tables[a.Name]; prev != nil {
			back := ApplyTable{Table: prev}
			return &undoStep{cmd: back.Command(), table: a.Name, fn: func(*handles) error { return ApplyTableNow(prev) }}, nil
		}
		return nil, nil
	}
	return nil, fmt.Errorf("network: unknown action %T", a)
}

// onHostLink does something to a link of the host's namespace and, unless
// this Undo made the link (then the change goes with it), returns the step
// that reverses it.
func (u *Undo) onHostLink(h *handles, name, cmd, undoCmd string, do, undo func(*netlink.Handle, netlink.Link) error) (*undoStep, error) {
	hl, err := h.at(nil)
	if err != nil {
		return nil, err
	}
	link, err := linkByName(hl, nil, name)
	if err != nil {
		return nil, err
	}
	if err := do(hl, link); err != nil {
		return nil, explain(cmd, err, "")
	}
	if u.made(nil, name) {
		return nil, nil
	}
	return &undoStep{cmd: undoCmd, fn: func(h *handles) error {
		hl, err := h.at(nil)
		if err != nil {
			return err
		}
		return ignoreGone(undo(hl, link))
	}}, nil
}

func delLinkStep(name string) *undoStep {
	return &undoStep{cmd: "ip link del " + name, fn: func(h *handles) error {
		hl, err := h.at(nil)
		if err != nil {
			return err
		}
		link, err := hl.LinkByName(name)
		if err != nil {
			return ignoreGone(err)
		}
		return ignoreGone(hl.LinkDel(link))
	}}
}

// DeleteLink deletes a link of ours (ubx…) in the host's namespace, if it
// is there (`ip link del NAME`); a veth takes its peer with it.
func DeleteLink(name string) error {
	if err := checkOurLink(name); err != nil {
		return err
	}
	h := newHandles()
	defer h.close()
	return delLinkStep(name).fn(h)
}

// sysctlDevice returns the interface of a per-interface key such as
// net.ipv4.conf.ubx0.route_localnet.
func sysctlDevice(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, "net.ipv4.conf.")
	if !ok {
		return "", false
	}
	dev, _, ok := strings.Cut(rest, ".")
	return strings.ReplaceAll(dev, "/", "."), ok
}

// handles are netlink sockets, one per namespace, opened when first needed.
type handles struct{ m map[string]*netlink.Handle }

func newHandles() *handles { return &handles{m: map[string]*netlink.Handle{}} }

// at returns a netlink handle whose sockets live in ns (the host's when
// ns is nil): the library opens them on a thread that has joined ns.
func (h *handles) at(ns *NetNS) (*netlink.Handle, error) {
	key := nsKey(ns)
	if hl := h.m[key]; hl != nil {
		return hl, nil
	}
	var hl *netlink.Handle
	var err error
	if ns == nil {
		hl, err = netlink.NewHandle(unix.NETLINK_ROUTE)
	} else {
		f, oerr := ns.open()
		if oerr != nil {
			return nil, oerr
		}
		hl, err = netlink.NewHandleAt(netns.NsHandle(int(f.Fd())), unix.NETLINK_ROUTE)
		f.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	h.m[key] = hl
	return hl, nil
}

func (h *handles) forget(ns *NetNS) {
	if hl := h.m[nsKey(ns)]; hl != nil {
		hl.Close()
		delete(h.m, nsKey(ns))
	}
}

func (h *handles) close() {
	for _, hl := range h.m {
		hl.Close()
	}
}

func linkByName(hl *netlink.Handle, ns *NetNS, name string) (netlink.Link, error) {
	link, err := hl.LinkByName(name)
	if err != nil {
		where := "on the host"
		if ns != nil {
			where = "in namespace " + ns.Name
		}
		return nil, fmt.Errorf("no link %s %s: %w", name, where, err)
	}
	return link, nil
}

func prefixIPNet(p netip.Prefix) *net.IPNet {
	bits := 32
	if p.Addr().Is6() {
		bits = 128
	}
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), bits)}
}

// ignoreGone turns "it is not there" into success, for undo steps whose
// object went with something else (a link with its namespace).
func ignoreGone(err error) error {
	var nf netlink.LinkNotFoundError
	if err == nil || errors.As(err, &nf) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT) ||
		errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ESRCH) {
		return nil
	}
	return err
}

// explain wraps a netlink error with the command and what to do about it.
func explain(cmd string, err error, kind string) error {
	hint := ""
	switch {
	case errors.Is(err, unix.EPERM):
		hint = ": this needs root (CAP_NET_ADMIN)"
	case errors.Is(err, unix.EEXIST):
		hint = ": it exists already (a leftover of an earlier run? delete it, or choose another name)"
	case errors.Is(err, unix.EOPNOTSUPP) && kind != "":
		hint = fmt.Sprintf(": this kernel has no %s links (load the module: modprobe %s)", kind, kind)
	case errors.Is(err, unix.ENETUNREACH):
		hint = ": the gateway is on no subnet of the namespace (add the address first)"
	}
	return fmt.Errorf("%s: %w%s", cmd, err, hint)
}
