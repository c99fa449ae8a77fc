//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/reexec"
)

// shmKey is the System V key our segment is created under: "unbx" in ASCII.
const shmKey = 0x756e6278

func init() { reexec.Register("ipc", ipcChild) }

// ipcView is what one side sees of System V shared memory.
type ipcView struct {
	NS    string
	Found bool // a segment with shmKey is listed in /proc/sysvipc/shm
	ID    int
	Size  int
}

// ipcChild creates a shared memory segment in its new IPC namespace.
func ipcChild(c *reexec.Conn) error {
	id, err := unix.SysvShmGet(shmKey, 4096, unix.IPC_CREAT|0o600)
	if err != nil {
		return fmt.Errorf("shmget(%#x, 4096, IPC_CREAT): %w", shmKey, err)
	}
	v, err := readIPC("self")
	if err != nil {
		return err
	}
	if err := c.Send(v); err != nil {
		return err
	}
	if err := c.Recv(nil); err != nil {
		return err
	}
	// Tidy, though the segment would die with the namespace anyway.
	_, err = unix.SysvShmCtl(id, unix.IPC_RMID, nil)
	return err
}

// readIPC looks for shmKey in /proc/sysvipc/shm, which lists the segments of
// the reader's IPC namespace (what `ipcs -m` prints).
func readIPC(pid string) (ipcView, error) {
	var v ipcView
	var err error
	if v.NS, err = nsLink(pid, "ipc"); err != nil {
		return v, err
	}
	b, err := os.ReadFile("/proc/sysvipc/shm")
	if err != nil {
		return v, err
	}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		// key shmid perms size cpid lpid ...
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		if key, _ := strconv.ParseInt(f[0], 10, 64); key == shmKey {
			v.Found = true
			v.ID, _ = strconv.Atoi(f[1])
			v.Size, _ = strconv.Atoi(f[3])
		}
	}
	return v, nil
}

func ipcDemo(ctx context.Context) (inside, host ipcView, err error) {
	c, err := start(ctx, "ipc", unix.CLONE_NEWIPC)
	if err != nil {
		return inside, host, err
	}
	defer c.Close()
	if err := c.Recv(&inside); err != nil {
		return inside, host, err
	}
	if host, err = readIPC("self"); err != nil {
		return inside, host, err
	}
	if err := c.Send(nil); err != nil {
		return inside, host, err
	}
	return inside, host, c.Wait()
}

func stepIPC(s *kit.Session) error {
	inside, host, err := ipcDemo(s.Ctx)
	if err != nil {
		return err
	}
	s.Cmd("unshare --ipc sh -c 'ipcmk --shmem 4096; ipcs -m'    # with key %#x", shmKey)
	s.Inside("%s  %s", inside.NS, describeShm(s, inside))
	s.Host("%s  %s", host.NS, describeShm(s, host))
	s.Note("The segment exists only in the child's IPC namespace, and is destroyed with it.")
	return nil
}

func describeShm(s *kit.Session, v ipcView) string {
	if !v.Found {
		return s.T("ipcs -m: no segment with key %#x", shmKey)
	}
	return fmt.Sprintf("ipcs -m: key %#x shmid %d bytes %d", shmKey, v.ID, v.Size)
}
