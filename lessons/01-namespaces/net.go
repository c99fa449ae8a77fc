//go:build linux

package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/reexec"
)

func init() { reexec.Register("net", netChild) }

// link is one network interface, as `ip link` and `ip addr` show it.
type link struct {
	Index int
	Name  string
	Flags string
	Up    bool
	Addrs []string
}

type netView struct {
	NS    string
	Links []link
}

func netChild(c *reexec.Conn) error {
	v, err := readNet()
	if err != nil {
		return err
	}
	if err := c.Send(v); err != nil {
		return err
	}
	return c.Recv(nil)
}

// readNet lists the interfaces of the calling process's network namespace.
// net.Interfaces asks the kernel over rtnetlink (RTM_GETLINK), as ip does.
func readNet() (netView, error) {
	var v netView
	var err error
	if v.NS, err = nsLink("self", "net"); err != nil {
		return v, err
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return v, fmt.Errorf("list interfaces: %w", err)
	}
	for _, i := range ifs {
		// ip prints flags as <LOOPBACK,UP,LOWER_UP>; net.Flags says "loopback|up".
		flags := strings.ToUpper(strings.ReplaceAll(i.Flags.String(), "|", ","))
		l := link{Index: i.Index, Name: i.Name, Flags: flags, Up: i.Flags&net.FlagUp != 0}
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			l.Addrs = append(l.Addrs, a.String())
		}
		v.Links = append(v.Links, l)
	}
	return v, nil
}

func netDemo(ctx context.Context) (inside, host netView, err error) {
	c, err := start(ctx, "net", unix.CLONE_NEWNET)
	if err != nil {
		return inside, host, err
	}
	defer c.Close()
	if err := c.Recv(&inside); err != nil {
		return inside, host, err
	}
	if host, err = readNet(); err != nil {
		return inside, host, err
	}
	if err := c.Send(nil); err != nil {
		return inside, host, err
	}
	return inside, host, c.Wait()
}

func stepNet(s *kit.Session) error {
	inside, host, err := netDemo(s.Ctx)
	if err != nil {
		return err
	}
	s.Cmd("unshare --net ip addr")
	for _, l := range inside.Links {
		state := "DOWN"
		if l.Up {
			state = "UP"
		}
		addrs := s.T("no addresses")
		if len(l.Addrs) > 0 {
			addrs = strings.Join(l.Addrs, " ")
		}
		s.Inside("%s  %d: %s <%s> state %s, %s", inside.NS, l.Index, l.Name, l.Flags, state, addrs)
	}
	entries, err := os.ReadDir("/sys/class/net")
	if err != nil {
		return err
	}
	s.Host("%s  ls /sys/class/net | wc -l: %d", host.NS, len(entries))
	s.Note("A new network namespace is an island: one loopback, down, no addresses, no routes.\n" +
		"Lesson 06 gives it a veth pair, a bridge and NAT.")
	return nil
}
