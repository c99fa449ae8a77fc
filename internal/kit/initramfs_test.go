//go:build linux

package kit_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/kit/kittest"
)

type liftReport struct {
	Before, After bool // RootIsInitramfs before and after LiftRoot
	HostFile      bool // the host's file still visible after pivot_root
}

func init() {
	kit.RegisterInit("kit-lift", func(c *kit.Conn) error {
		var cfg struct{ Root, HostFile string }
		if err := c.Recv(&cfg); err != nil {
			return err
		}
		var r liftReport
		var err error
		if r.Before, err = kit.RootIsInitramfs(); err != nil {
			return err
		}
		if err := kit.MakePrivate("/"); err != nil {
			return err
		}
		putOld := filepath.Join(cfg.Root, kit.OldRoot)
		if err := os.Mkdir(putOld, 0o700); err != nil {
			return err
		}
		if err := kit.LiftRoot(putOld); err != nil {
			return err
		}
		if r.After, err = kit.RootIsInitramfs(); err != nil {
			return err
		}
		if err := kit.BindSelf(cfg.Root); err != nil {
			return err
		}
		if err := kit.PivotRoot(cfg.Root); err != nil {
			return err
		}
		if err := kit.DropOldRoot(); err != nil {
			return err
		}
		_, err = os.Stat(cfg.HostFile)
		r.HostFile = !errors.Is(err, os.ErrNotExist)
		return c.Send(r)
	})
}

// TestPrivLiftRootThenPivot lifts the root (which works on any machine, and
// is needed on one running from its initial ramfs), then pivots: the root
// is no longer the namespace's root mount, and the host is gone.
func TestPrivLiftRootThenPivot(t *testing.T) {
	kittest.Privileged(t, kit.NeedNamespace("mnt"))
	root := filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	c, err := kit.NewChild("kit-lift")
	if err != nil {
		t.Fatal(err)
	}
	c.Cmd.SysProcAttr.Cloneflags = unix.CLONE_NEWNS
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Send(struct{ Root, HostFile string }{root, exe}); err != nil {
		t.Fatal(err)
	}
	var r liftReport
	if err := c.Recv(&r); err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(); err != nil {
		t.Fatal(err)
	}
	t.Logf("root was the namespace's root mount (initial ramfs): %v", r.Before)
	if r.After {
		t.Error("RootIsInitramfs() after LiftRoot = true; want false")
	}
	if r.HostFile {
		t.Errorf("after LiftRoot and PivotRoot, %s is still visible", exe)
	}
}
