package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// HostRoute is a route the host has, as the subnet choice sees it.
type HostRoute struct {
	Dst netip.Prefix
	Dev string
}

func (r HostRoute) String() string {
	if r.Dev == "" {
		return r.Dst.String()
	}
	return r.Dst.String() + " dev " + r.Dev
}

// Candidate is one subnet ChooseSubnet considered, and why it was passed
// over (Clash empty: it was free).
type Candidate struct {
	Subnet netip.Prefix
	Clash  string
}

// DefaultPool is where the capstone's networks take their subnets from, a
// /24 each: 10.89.0.0/16, next to podman's default 10.88.0.0/16.
var DefaultPool = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 89, 0, 0}), 16)

// ChooseSubnet returns the first subnet of the given size (bits, e.g. 24)
// in pool that overlaps none of the host's routes and none of taken (the
// subnets of networks that exist on paper but may have no route now), and
// the candidates it looked at, in order, to show why. The choice depends
// only on its inputs, so it is the same on every run of a machine in the
// same state. The default route is not a clash: it overlaps everything.
func ChooseSubnet(pool netip.Prefix, bits int, routes []HostRoute, taken []netip.Prefix) (netip.Prefix, []Candidate, error) {
	pool = pool.Masked()
	if !pool.Addr().Is4() || bits < pool.Bits() || bits > 30 {
		return netip.Prefix{}, nil, fmt.Errorf("choose a /%d in %s: need an IPv4 pool and a size from /%d to /30", bits, pool, pool.Bits())
	}
	var seen []Candidate
	for s := netip.PrefixFrom(pool.Addr(), bits); pool.Contains(s.Addr()); {
		c := Candidate{Subnet: s, Clash: clash(s, routes, taken)}
		seen = append(seen, c)
		if c.Clash == "" {
			return s, seen, nil
		}
		next, ok := nextPrefix(s)
		if !ok {
			break
		}
		s = next
	}
	return netip.Prefix{}, seen, fmt.Errorf("no free /%d in %s: every one overlaps a host route or another network "+
		"(give a subnet explicitly, or remove unused networks)", bits, pool)
}

// CheckSubnet refuses a subnet a person chose that overlaps a host route or
// another network, or is too small to hold a gateway and a container.
func CheckSubnet(subnet netip.Prefix, routes []HostRoute, taken []netip.Prefix) error {
	if !subnet.Addr().Is4() {
		return fmt.Errorf("subnet %s: IPv4 only, for now", subnet)
	}
	if subnet != subnet.Masked() {
		return fmt.Errorf("subnet %s: host bits are set; did you mean %s?", subnet, subnet.Masked())
	}
	if subnet.Bits() > 30 {
		return fmt.Errorf("subnet %s: too small for a gateway and a container (use /30 or larger)", subnet)
	}
	if c := clash(subnet, routes, taken); c != "" {
		return fmt.Errorf("subnet %s overlaps %s: choose another subnet, or leave it out to have a free one chosen", subnet, c)
	}
	return nil
}

func clash(s netip.Prefix, routes []HostRoute, taken []netip.Prefix) string {
	for _, t := range taken {
		if t.Overlaps(s) {
			return "the subnet of another network, " + t.String()
		}
	}
	for _, r := range routes {
		if r.Dst.Bits() == 0 {
			continue
		}
		if r.Dst.Overlaps(s) {
			return "the host's route " + r.String()
		}
	}
	return ""
}

// nextPrefix is the prefix of the same size right after p.
func nextPrefix(p netip.Prefix) (netip.Prefix, bool) {
	a := p.Addr().As4()
	n := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	step := uint32(1) << (32 - p.Bits())
	if n+step < n {
		return netip.Prefix{}, false
	}
	n += step
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), p.Bits()), true
}

// FirstHost is the first usable address of a subnet: the conventional
// gateway.
func FirstHost(subnet netip.Prefix) netip.Addr { return subnet.Masked().Addr().Next() }

// Leases is the address manager (IPAM) of one subnet: which container has
// which address, in Dir/leases.json. Every change happens under an
// exclusive flock(2) on Dir/leases.lock, held while the file is read, an
// address is picked and the file is rewritten (to a temporary file, then
// renamed over, so a reader never sees half a file). Two containers
// started at the same moment, in one process or in two, take turns and
// never get the same address.
//
// flock locks belong to an open file description, so goroutines of one
// process exclude each other too, as long as each opens the lock file
// itself, which Leases does on every call.
type Leases struct {
	Dir     string
	Subnet  netip.Prefix
	Gateway netip.Addr
}

// Lease is one address and who holds it.
type Lease struct {
	Owner string     `json:"owner"`
	Addr  netip.Addr `json:"addr"`
}

type leaseFile struct {
	Subnet netip.Prefix `json:"subnet"`
	Leases []Lease      `json:"leases"`
}

// LeaseFile is the path of the lease file.
func (l *Leases) LeaseFile() string { return filepath.Join(l.Dir, "leases.json") }

// LockFile is the path of the lock file.
func (l *Leases) LockFile() string { return filepath.Join(l.Dir, "leases.lock") }

// Allocate gives owner the lowest free address of the subnet (not the
// network address, the gateway or the broadcast address) and records it.
// An owner that holds a lease already gets the same address again.
func (l *Leases) Allocate(owner string) (netip.Addr, error) {
	return l.allocate(owner, netip.Addr{})
}

// AllocateAddr gives owner the address want, if it is in the subnet and
// free (`--ip`).
func (l *Leases) AllocateAddr(owner string, want netip.Addr) (netip.Addr, error) {
	if !want.IsValid() {
		return netip.Addr{}, fmt.Errorf("lease for %s: no address given", owner)
	}
	return l.allocate(owner, want)
}

func (l *Leases) allocate(owner string, want netip.Addr) (netip.Addr, error) {
	if err := ownerOK(owner); err != nil {
		return netip.Addr{}, err
	}
	var got netip.Addr
	err := l.locked(true, func(f *leaseFile) error {
		for _, ls := range f.Leases {
			if ls.Owner == owner {
				if want.IsValid() && want != ls.Addr {
					return fmt.Errorf("lease for %s: it holds %s already (release it first)", owner, ls.Addr)
				}
				got = ls.Addr
				return nil
			}
		}
		used := map[netip.Addr]string{}
		for _, ls := range f.Leases {
			used[ls.Addr] = ls.Owner
		}
		if want.IsValid() {
			if reason := l.unusable(want); reason != "" {
				return fmt.Errorf("address %s for %s: %s", want, owner, reason)
			}
			if o, ok := used[want]; ok {
				return fmt.Errorf("address %s for %s: %s holds it (choose another, or leave it out)", want, owner, o)
			}
			got = want
		} else {
			for a := l.Subnet.Masked().Addr(); l.Subnet.Contains(a); a = a.Next() {
				if _, ok := used[a]; !ok && l.unusable(a) == "" {
					got = a
					break
				}
			}
			if !got.IsValid() {
				return fmt.Errorf("no free address in %s for %s: %d leases hold them all "+
					"(remove containers, or use a larger subnet)", l.Subnet, owner, len(f.Leases))
			}
		}
		f.Leases = append(f.Leases, Lease{Owner: owner, Addr: got})
		return nil
	})
	return got, err
}

// unusable says why a would be no container's address, or "".
func (l *Leases) unusable(a netip.Addr) string {
	switch {
	case !l.Subnet.Contains(a):
		return "not in " + l.Subnet.String()
	case a == l.Subnet.Masked().Addr():
		return "the network's own address"
	case a == l.Gateway:
		return "the gateway's"
	case !l.Subnet.Contains(a.Next()):
		return "the broadcast address"
	}
	return ""
}

// Release gives owner's address back. Releasing what is not held is no
// error, so a clean up can always run.
func (l *Leases) Release(owner string) error {
	return l.locked(true, func(f *leaseFile) error {
		f.Leases = slices.DeleteFunc(f.Leases, func(ls Lease) bool { return ls.Owner == owner })
		return nil
	})
}

// List returns the leases, in address order.
func (l *Leases) List() ([]Lease, error) {
	var out []Lease
	err := l.locked(false, func(f *leaseFile) error {
		out = slices.Clone(f.Leases)
		return nil
	})
	slices.SortFunc(out, func(a, b Lease) int { return a.Addr.Compare(b.Addr) })
	return out, err
}

// locked runs fn on the lease file's content with the lock held; when
// write is true and fn succeeds, the content is written back.
func (l *Leases) locked(write bool, fn func(*leaseFile) error) error {
	if err := os.MkdirAll(l.Dir, 0o755); err != nil {
		return fmt.Errorf("leases: %w", err)
	}
	unlock, err := lockFile(l.LockFile())
	if err != nil {
		return err
	}
	defer unlock()
	f := &leaseFile{Subnet: l.Subnet}
	b, err := os.ReadFile(l.LeaseFile())
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("leases: %w", err)
	default:
		if err := json.Unmarshal(b, f); err != nil {
			return fmt.Errorf("leases: %s is damaged: %w (move it away to start afresh)", l.LeaseFile(), err)
		}
		if f.Subnet != l.Subnet {
			return fmt.Errorf("leases: %s is for subnet %s, not %s", l.LeaseFile(), f.Subnet, l.Subnet)
		}
	}
	if err := fn(f); err != nil {
		return err
	}
	if !write {
		return nil
	}
	slices.SortFunc(f.Leases, func(a, b Lease) int { return a.Addr.Compare(b.Addr) })
	return writeFile(l.LeaseFile(), f.marshal())
}

// marshal writes the lease file with one lease per line, so that a person
// can read it (and diff it) at a glance.
func (f *leaseFile) marshal() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "{\n  \"subnet\": %q,\n  \"leases\": [", f.Subnet)
	for i, ls := range f.Leases {
		line, _ := json.Marshal(ls)
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n    " + string(line))
	}
	if len(f.Leases) > 0 {
		b.WriteString("\n  ")
	}
	b.WriteString("]\n}\n")
	return []byte(b.String())
}

// lockFile takes an exclusive flock(2) on path, waiting for it, and
// returns the function that lets it go.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("flock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// writeJSON writes v to path as indented JSON, atomically (writeFile).
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(path, append(b, '\n'))
}

// writeFile writes b to path atomically: a temporary file in the same
// directory, synced, then renamed over path (rename(2) is atomic), so a
// reader sees the old file or the new one, never half of one.
func writeFile(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// readJSON reads path into v; a missing file leaves v as it is.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s is damaged: %w", path, err)
	}
	return nil
}

// ownerOK refuses owners that would not read back from the file.
func ownerOK(owner string) error {
	if strings.TrimSpace(owner) != owner || owner == "" {
		return fmt.Errorf("lease owner %q: a name without surrounding spaces", owner)
	}
	return nil
}
