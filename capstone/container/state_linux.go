package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/procfs"
)

// Status is a container's state in the runtime-spec's lifecycle, with runc's
// "paused".
type Status string

// The statuses; see the package documentation for how each is derived.
const (
	Creating Status = "creating"
	Created  Status = "created"
	Running  Status = "running"
	Paused   Status = "paused"
	Stopped  Status = "stopped"
)

// The errors containerd's shim and podman recognise in runc's words.
var (
	ErrNotExist = errors.New("container does not exist")
	ErrExist    = errors.New("container with given ID already exists")
	ErrNotRun   = errors.New("container not running")
)

// DefaultRoot is where container state lives unless --root says otherwise.
const DefaultRoot = "/run/unbox-runtime"

// State is what `state` prints: the runtime-spec's state (runtime.md,
// "State"), with runc's rootfs, created and owner.
type State struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      Status            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// record is a container's state file, <root>/<id>/state.json: facts, never
// a status (that is derived each time it is asked for).
type record struct {
	ID      string    `json:"id"`
	Bundle  string    `json:"bundle"`
	Created time.Time `json:"created"`
	// InitPid and InitStart name the init: PID and start time
	// (/proc/<pid>/stat field 22) together survive PID reuse. Zero while
	// the init is not started yet.
	InitPid   int    `json:"initPid,omitempty"`
	InitStart uint64 `json:"initStart,omitempty"`
	// CreatorPid and CreatorStart name the `create` process while it
	// runs, so that a create killed halfway reads as stopped, not
	// creating forever.
	CreatorPid   int     `json:"creatorPid,omitempty"`
	CreatorStart uint64  `json:"creatorStart,omitempty"`
	Config       *Config `json:"config"`
}

const (
	stateFile = "state.json"
	fifoName  = "exec.fifo"
)

// checkID refuses an ID that is not a single path element of safe
// characters (runc's rule, ^[\w+.-]+$): it names a directory under the
// root.
func checkID(id string) error {
	ok := id != "" && id != "." && id != ".."
	for _, r := range id {
		ok = ok && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_+.-", r))
	}
	if !ok {
		return fmt.Errorf("invalid container id %q: want letters, digits and + - . _", id)
	}
	return nil
}

// Container is a handle on one container's state directory.
type Container struct {
	ID   string
	Root string
	dir  string
	rec  record
}

// Load reads the container id under root. A missing container is
// ErrNotExist.
func Load(root, id string) (*Container, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	c := &Container{ID: id, Root: root, dir: filepath.Join(root, id)}
	b, err := os.ReadFile(filepath.Join(c.dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		if _, derr := os.Stat(c.dir); derr == nil {
			// A create killed before its first write: the directory
			// exists, the record does not. Report it as stopped, so
			// that delete can remove it.
			c.rec = record{ID: id}
			return c, nil
		}
		return nil, ErrNotExist
	}
	if err != nil {
		return nil, fmt.Errorf("read state of %s: %w", id, err)
	}
	if err := json.Unmarshal(b, &c.rec); err != nil {
		return nil, fmt.Errorf("state of %s (%s): %w: `unbox-runtime delete --force %s` removes it", id, filepath.Join(c.dir, stateFile), err, id)
	}
	return c, nil
}

// List loads every container under root, by ID.
func List(root string) ([]*Container, error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Container
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		c, err := Load(root, e.Name())
		if err != nil {
			continue // gone meanwhile, or not ours
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Config is the container's configuration as created (nil for a create
// that died before writing it).
func (c *Container) Config() *Config { return c.rec.Config }

// Bundle is the bundle the container was created from.
func (c *Container) Bundle() string { return c.rec.Bundle }

// Pid is the init's PID as the host sees it, or 0.
func (c *Container) Pid() int { return c.rec.InitPid }

// save writes the record atomically: a temporary file (under the lock, so
// one name serves), fsync(2), then rename(2) over the old one, so that a
// reader sees the old record or the new, never half of one, even if this
// process is killed meanwhile. On a tmpfs (the default root is under
// /run) the fsync is skipped: it is a no-op there, and the state is meant
// to go with the machine's next boot anyway.
func (c *Container) save() error {
	b, err := json.Marshal(c.rec)
	if err != nil {
		return err
	}
	path := filepath.Join(c.dir, stateFile)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	_, err = f.Write(b)
	if err == nil && !onTmpfs(c.dir) {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write state %s: %w", path, err)
	}
	return nil
}

func onTmpfs(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && st.Type == unix.TMPFS_MAGIC
}

// writeAtomic writes b to path through a temporary file of its own in the
// same directory (a directory that is not ours, with no lock: --pid-file).
func writeAtomic(path string, b []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// lock takes the container's lock, flock(2) on its directory, until unlock.
// Every command that changes a container holds it; the kernel drops it
// when the holder dies, so a killed command never leaves it taken.
func (c *Container) lock() (unlock func(), err error) {
	fd, err := unix.Open(c.dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil, ErrNotExist
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", c.dir, err)
	}
	if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("lock %s: %w", c.dir, err)
	}
	return func() { unix.Close(fd) }, nil
}

// locked takes the lock and rereads the record, which another command may
// have changed since Load.
func (c *Container) locked() (unlock func(), err error) {
	unlock, err = c.lock()
	if err != nil {
		return nil, err
	}
	if err := c.reload(); err != nil {
		unlock()
		return nil, err
	}
	return unlock, nil
}

// reload rereads the record.
func (c *Container) reload() error {
	fresh, err := Load(c.Root, c.ID)
	if err != nil {
		return err
	}
	c.rec = fresh.rec
	return nil
}

// alive reports whether pid is the process that started at start, and
// not a zombie.
func alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	st, err := procfs.ReadStat(strconv.Itoa(pid))
	return err == nil && st.StartTime == start && st.State != "Z" && st.State != "X"
}

// startTime reads a process's start time.
func startTime(pid int) (uint64, error) {
	st, err := procfs.ReadStat(strconv.Itoa(pid))
	if err != nil {
		return 0, err
	}
	return st.StartTime, nil
}

// Status derives the container's status now.
func (c *Container) Status() Status {
	r := c.rec
	if r.InitPid == 0 {
		if alive(r.CreatorPid, r.CreatorStart) {
			return Creating
		}
		return Stopped
	}
	if !alive(r.InitPid, r.InitStart) {
		return Stopped
	}
	if _, err := os.Lstat(filepath.Join(c.dir, fifoName)); err == nil {
		if alive(r.CreatorPid, r.CreatorStart) {
			return Creating // the init is up, create has not finished
		}
		return Created
	}
	if c.frozen() {
		return Paused
	}
	return Running
}

// State is the container's state as `state` prints it.
func (c *Container) State() State { return c.stateAs(c.Status()) }

// stateAs is the state with the status given, for a caller that knows it
// (the hooks) without deriving it again.
func (c *Container) stateAs(status Status) State {
	s := State{
		ID:      c.ID,
		Status:  status,
		Bundle:  c.rec.Bundle,
		Created: c.rec.Created,
	}
	if cfg := c.rec.Config; cfg != nil {
		s.OCIVersion, s.Rootfs, s.Annotations = cfg.OCIVersion, cfg.Rootfs, cfg.Annotations
	}
	if s.Status != Stopped {
		s.Pid = c.rec.InitPid
	}
	return s
}
