//go:build linux

package main

import (
	"context"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/reexec"
)

const containerHostname = "unbox-01"

func init() { reexec.Register("uts", utsChild) }

// utsView is a hostname and the UTS namespace it belongs to.
type utsView struct {
	NS       string
	Hostname string
}

// utsChild runs in the child, in its new UTS namespace: it renames itself and
// reports, then stays alive until the parent has looked at the host.
func utsChild(c *reexec.Conn) error {
	var name string
	if err := c.Recv(&name); err != nil {
		return err
	}
	if err := unix.Sethostname([]byte(name)); err != nil {
		return fmt.Errorf("sethostname %q: %w", name, err)
	}
	v, err := readUTS("self")
	if err != nil {
		return err
	}
	if err := c.Send(v); err != nil {
		return err
	}
	return c.Recv(nil)
}

func readUTS(pid string) (utsView, error) {
	ns, err := nsLink(pid, "uts")
	if err != nil {
		return utsView{}, err
	}
	h, err := os.Hostname()
	return utsView{NS: ns, Hostname: h}, err
}

// utsDemo renames a child in a new UTS namespace and reads the hostname on
// both sides while the child is alive.
func utsDemo(ctx context.Context, name string) (inside, host utsView, err error) {
	c, err := start(ctx, "uts", unix.CLONE_NEWUTS)
	if err != nil {
		return inside, host, err
	}
	defer c.Close()
	if err := c.Send(name); err != nil {
		return inside, host, err
	}
	if err := c.Recv(&inside); err != nil {
		return inside, host, err
	}
	if host, err = readUTS("self"); err != nil {
		return inside, host, err
	}
	if err := c.Send(nil); err != nil {
		return inside, host, err
	}
	return inside, host, c.Wait()
}

func stepUTS(s *kit.Session) error {
	s.Cmd("unshare --uts sh -c 'hostname %s; hostname'", containerHostname)
	inside, host, err := utsDemo(s.Ctx, containerHostname)
	if err != nil {
		return err
	}
	s.Inside("%s  hostname %s", inside.NS, inside.Hostname)
	s.Host("%s  hostname %s (unchanged)", host.NS, host.Hostname)
	s.Note("sethostname(2) renamed only the child's UTS namespace: another inode, another name.")
	return nil
}
