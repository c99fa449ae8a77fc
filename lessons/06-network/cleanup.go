//go:build linux

package main

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/network"
)

func (l *lab) stepCleanUp(s *kit.Session) error {
	var pids []string
	for _, name := range sortedKeys(l.ns) {
		pids = append(pids, l.ns[name].Name)
	}
	cmds := []string{"ip netns pids " + strings.Join(pids, " ") + " | xargs kill    # the containers"}
	err := l.teardown(func(cmd string) { cmds = append(cmds, cmd) })
	cmds = append(cmds, "rm -rf "+l.dir)
	printCmds(s, cmds)
	if err != nil {
		return err
	}

	ours, err := network.OursOnHost()
	if err != nil {
		return err
	}
	var left []string
	for _, o := range ours {
		if strings.Contains(o, "ubx06-") || strings.Contains(o, table) || strings.Contains(o, nsPrefix) {
			left = append(left, o)
		}
	}
	tables, err := network.Tables()
	if err != nil {
		return err
	}
	fwd, err := network.ReadSysctl(network.ForwardingKey)
	if err != nil {
		return err
	}
	s.Cmd("ip -br link | grep ubx06; ip netns | grep %s; nft list tables; sysctl %s", nsPrefix, network.ForwardingKey)
	if len(left) > 0 {
		return fmt.Errorf("after clean up, still there: %s", strings.Join(left, ", "))
	}
	s.Host("no ubx06- link, no %s namespace", strings.TrimSuffix(nsPrefix, "-"))
	if !sameTables(tables, l.tablesBefore) {
		return fmt.Errorf("nft list tables = %v; before the lesson: %v", tables, l.tablesBefore)
	}
	s.Host("nftables: no table %s; the host's other tables are as they were", table)
	if fwd != l.forwardingWas {
		return errors.New("net.ipv4.ip_forward = " + fwd + "; before the lesson: " + l.forwardingWas)
	}
	s.Host("%s = %s, as it was", network.ForwardingKey, fwd)
	s.Note("Last made, first gone: the table and ip_forward of step 5, then each link and namespace.\n" +
		"Deleting a veth's host end takes the container's end with it; addresses, routes, route_localnet\n" +
		"and hairpin needed no step of their own: they went with their link. The same clean up runs if\n" +
		"you press Ctrl-C at any point.")
	return nil
}

func sameTables(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
