//go:build linux

package nsenter_test

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/nsenter"
	"github.com/unboxlab/unbox/internal/reexec"
)

// throwawayReport is what the child of TestOnThrowawayThread... saw.
type throwawayReport struct {
	OnMainBefore bool   // the caller was on the main thread
	TID          int    // fn's thread
	Err          string // OnThrowawayThread's error
	CwdBefore    string // /proc/self/cwd, the main thread's, before and after
	CwdAfter     string
	Ended        bool // fn's thread was gone within 5 s
}

// The child calls OnThrowawayThread from the main thread, with one P: there
// a plain locked goroutine would run on the main thread too, since the
// runtime runs the goroutine just made when its maker blocks. fn gives its
// thread a working directory of its own (unshare(CLONE_FS), which needs no
// privilege) and moves it.
func init() {
	reexec.Register("nsenter-throwaway", func(c *reexec.Conn) error {
		// reexec locked the main goroutine to the main thread; with one P
		// set first, it is still there once unlocked.
		runtime.GOMAXPROCS(1)
		runtime.UnlockOSThread()
		var r throwawayReport
		r.CwdBefore, _ = os.Readlink("/proc/self/cwd")
		r.OnMainBefore = unix.Gettid() == unix.Getpid()
		err := nsenter.OnThrowawayThread(func() error {
			r.TID = unix.Gettid()
			if err := unix.Unshare(unix.CLONE_FS); err != nil {
				return err
			}
			return unix.Chdir("/")
		})
		if err != nil {
			r.Err = err.Error()
		}
		r.CwdAfter, _ = os.Readlink("/proc/self/cwd")
		task := "/proc/self/task/" + strconv.Itoa(r.TID)
		for deadline := time.Now().Add(5 * time.Second); !r.Ended && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			_, err := os.Lstat(task)
			r.Ended = os.IsNotExist(err)
		}
		return c.Send(r)
	})
}

// TestOnThrowawayThreadLeavesTheMainThreadAlone: called on the main thread,
// fn runs on another thread, which ends; the main thread, which /proc/self
// shows, keeps the process's working directory.
func TestOnThrowawayThreadLeavesTheMainThreadAlone(t *testing.T) {
	c := reexec.NewChild("nsenter-throwaway")
	c.Cmd.Dir = t.TempDir()
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var r throwawayReport
	if err := c.Recv(&r); err != nil {
		t.Fatal(err)
	}
	if !r.OnMainBefore {
		t.Fatalf("the child called OnThrowawayThread from thread %d, not the main one: the test tests nothing", r.TID)
	}
	if r.Err != "" {
		t.Fatalf("OnThrowawayThread(unshare CLONE_FS; cd /) = %s", r.Err)
	}
	if r.TID == c.Pid() {
		t.Errorf("fn ran on the main thread (tid %d = pid); want another thread, which the runtime can end", r.TID)
	}
	if r.CwdAfter != r.CwdBefore {
		t.Errorf("after OnThrowawayThread, /proc/self/cwd (the main thread's) = %s; want %s: fn's cd stayed on a parked main thread",
			r.CwdAfter, r.CwdBefore)
	}
	if !r.Ended {
		t.Errorf("fn's thread %d was still there 5 s after fn returned; want it ended", r.TID)
	}
}
