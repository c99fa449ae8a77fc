package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/mount"
	"github.com/unboxlab/unbox/internal/statefile"
)

// nameTaken is the ID of the container named name, or "".
func (e *Engine) nameTaken(name string) string {
	ids, _ := e.ids()
	for _, id := range ids {
		if c, err := e.load(id); err == nil && c.Name == name {
			return id
		}
	}
	return ""
}

func nameConflict(name, id string) error {
	return fmt.Errorf("conflict: the container name \"/%s\" is already in use by container %q: remove (or rename) that container to be able to reuse that name", name, id)
}

// publish makes the container prepared in tmp visible: under the
// containers' lock its name is checked free (or chosen, when none was
// given) and its short ID unique, its record written, and the directory
// renamed to its ID.
func (e *Engine) publish(c *Container, tmp string) error {
	unlock, err := e.containersLock()
	if err != nil {
		return err
	}
	defer unlock()
	ids, err := e.ids()
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, id := range ids {
		if Short(id) == Short(c.ID) {
			return fmt.Errorf("a container with the short ID %s exists already: try again", Short(c.ID))
		}
		if x, err := e.load(id); err == nil {
			names[x.Name] = id
		}
	}
	if c.Name == "" {
		for i := 0; ; i++ {
			c.Name = randomName()
			if i > 20 {
				c.Name += "_" + Short(c.ID)[:4]
			}
			if names[c.Name] == "" {
				break
			}
		}
	} else if id := names[c.Name]; id != "" {
		return nameConflict(c.Name, id)
	}
	if err := statefile.WriteJSON(filepath.Join(tmp, "config.json"), c, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, e.dir(c.ID))
}

// discardNew removes what a create that failed made: a temporary
// directory, its read-only mount if it is still there, and the volumes it
// attached.
func (e *Engine) discardNew(id string) {
	tmp := filepath.Join(e.Root, "containers", ".new-"+id)
	unmount(filepath.Join(tmp, "rootfs"))
	e.Volumes.Detach(id, true)
	os.RemoveAll(tmp)
}

// propagationName is the name of a propagation flag, as the spec spells
// it ("rslave"); "" for the default.
func propagationName(flags uintptr) string {
	for _, n := range []string{"private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable"} {
		if f, ok := mount.ParsePropagation(n); ok && f == flags && flags != 0 {
			return n
		}
	}
	return ""
}

// ParseSignal reads a signal as docker kill -s and STOPSIGNAL take it:
// "SIGTERM", "TERM", "term" or "15".
func ParseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal: %s", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	sig := unix.SignalNum(name)
	if sig == 0 {
		return 0, fmt.Errorf("invalid signal: %s", s)
	}
	return sig, nil
}
