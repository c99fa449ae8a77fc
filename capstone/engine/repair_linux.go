package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/unboxlab/unbox/internal/statefile"
)

// repair brings a record up to date with the processes: a container
// recorded as running whose monitor is gone (killed, or the machine
// rebooted: /run is empty then) is torn down and recorded as exited with
// status 255; one left "removing" by a removal that was killed becomes
// "dead", which rm and prune finish. A container whose lock is held is
// left as it is: a command is at work on it.
func (e *Engine) repair(c *Container) *Container {
	if !c.State.Running && c.State.Status != Removing {
		return c
	}
	if c.State.Status != Removing && e.monitorAlive(c.ID) {
		return c
	}
	unlock, err := statefile.TryLock(e.dir(c.ID))
	if err != nil {
		return c
	}
	defer unlock()
	c2, err := e.load(c.ID)
	if err != nil {
		return c
	}
	switch {
	case c2.State.Status == Removing:
		c2.State.set(Dead)
		c2.State.Error = "a removal was interrupted: remove it again (unbox rm -f)"
	case c2.State.Running && !e.monitorAlive(c2.ID):
		rt, _ := e.runtimeFor(c2.HostConfig.Runtime)
		netw, _ := e.network(c2)
		e.killMonitor(c2.ID)
		if err := e.teardown(c2, rt, netw); err != nil {
			c2.State.Error = "the container's monitor died; cleaning up: " + err.Error()
		} else {
			c2.State.Error = "the container's monitor died"
		}
		os.RemoveAll(e.runDir(c2.ID))
		c2.State.set(Exited)
		c2.State.ExitCode, c2.State.FinishedAt = 255, time.Now().UTC()
	default:
		return c2
	}
	if err := e.save(c2); err != nil {
		return c
	}
	return c2
}

// sweep removes what commands killed half-way left outside any record:
// containers being made whose maker is gone (.new-*, unlocked), removals
// cut short after the rename (.trash-*), the state directories of
// containers that no longer exist, and the runtimes' state for them.
// ps -a and system prune call it.
func (e *Engine) sweep(ctx context.Context) {
	dir := filepath.Join(e.Root, "containers")
	ents, _ := os.ReadDir(dir)
	known := map[string]bool{}
	for _, d := range ents {
		name := d.Name()
		switch {
		case strings.HasPrefix(name, ".new-"):
			id := strings.TrimPrefix(name, ".new-")
			if unlock, err := lockTmp(filepath.Join(dir, name)); err == nil {
				unlock()
				e.discardNew(id)
			} else {
				known[Short(id)] = true
			}
		case strings.HasPrefix(name, ".trash-"):
			unmount(filepath.Join(dir, name, "rootfs"))
			os.RemoveAll(filepath.Join(dir, name))
		case len(name) == 64 && isHex(name):
			known[Short(name)] = true
		}
	}
	runs, _ := os.ReadDir(filepath.Join(e.State, "containers"))
	for _, d := range runs {
		if !known[d.Name()] {
			e.killMonitor(d.Name())
			os.RemoveAll(filepath.Join(e.State, "containers", d.Name()))
		}
	}
	rts, _ := os.ReadDir(filepath.Join(e.State, "runtime"))
	for _, r := range rts {
		states, _ := os.ReadDir(filepath.Join(e.State, "runtime", r.Name()))
		for _, s := range states {
			id := s.Name()
			if !s.IsDir() || len(id) != 64 || !isHex(id) || known[Short(id)] {
				continue
			}
			// A container the engine does not know: the runtime's own
			// delete removes its processes and cgroup.
			name := r.Name()
			if name != BuiltinRuntime {
				b, _ := os.ReadFile(filepath.Join(e.State, "runtime", name, ".path"))
				name = string(b)
			}
			if rt, err := e.runtimeFor(name); err == nil && name != "" {
				rt.Delete(ctx, id, true)
			}
			os.RemoveAll(filepath.Join(e.State, "runtime", r.Name(), id))
			e.destroyCgroup(&Container{ID: id, HostConfig: HostConfig{CgroupParent: e.CgroupParent}})
		}
	}
}
