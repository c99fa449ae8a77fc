//go:build linux

package main

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/network"
)

func (l *lab) stepIPAM(s *kit.Session) error {
	s.Cmd("ip route show table all    # in step 1; the subnet must overlap none of these routes")
	var rows [][]string
	for _, c := range l.candidates {
		verdict := s.T("no host route overlaps it: chosen")
		if c.Clash != "" {
			verdict = s.T("overlaps %s", c.Clash)
		}
		rows = append(rows, []string{c.Subnet.String(), verdict})
	}
	s.Table([]string{"candidate", "verdict"}, rows)

	routes, err := network.HostRoutes()
	if err != nil {
		return err
	}
	pool := netip.PrefixFrom(l.subnet.Addr(), 16).Masked()
	next, seen, err := network.ChooseSubnet(pool, 24, routes, nil)
	if err != nil {
		return err
	}
	s.Say("Asked again now, the choice would be %s: %s overlaps\n%s, ours since step 3.", next, l.subnet, seen[0].Clash)

	s.Cmd("cat %s", l.leases.LeaseFile())
	b, err := os.ReadFile(l.leases.LeaseFile())
	if err != nil {
		return err
	}
	s.Show("%s", b)

	// Six containers ask at the same moment, each as a process of its own
	// would: its own open of the lock file, its own flock.
	names := []string{"c", "d", "e", "f", "g", "h"}
	got := make([]netip.Addr, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			leases := *l.leases
			got[i], errs[i] = leases.Allocate(n)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("lease for %s: %w", names[i], err)
		}
	}
	slices.SortFunc(got, netip.Addr.Compare)
	got = slices.Compact(got)
	var addrs []string
	for _, a := range got {
		addrs = append(addrs, a.String())
	}
	s.Cmd("# six containers, c to h, ask for an address at the same moment")
	s.Host("%d different addresses: %s", len(got), strings.Join(addrs, " "))
	for _, n := range names {
		if err := l.leases.Release(n); err != nil {
			return err
		}
	}
	s.Host("released again: the lease file holds a and b")
	s.Note("A subnet that overlapped a route the host has would take that route's traffic. The lease file\n" +
		"is read, changed and written back whole under flock(2) on leases.lock: without the lock, two\n" +
		"containers started together could both read \"next free: .4\" and both take it.")
	return nil
}
