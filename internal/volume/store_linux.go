package volume

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/procfs"
)

// The store's layout on disk, Docker's local driver's with a JSON record
// per volume instead of one database for all.
const (
	dataDir    = "_data"       // <store>/<name>/_data: what containers see
	recordFile = "volume.json" // <store>/<name>/volume.json: the volume's record
	lockFile   = ".lock"       // <store>/.lock: held (flock(2)) for every change
	newPrefix  = ".new-"       // a volume being made: renamed to its name when complete
	rmPrefix   = ".rm-"        // a volume being removed: renamed away first
)

// Volume is one volume's record.
type Volume struct {
	Name string `json:"name"`
	// Anonymous volumes were made for one container (-v /test), named by
	// a random ID; docker rm -v and run --rm remove them, volume prune
	// removes them when dangling.
	Anonymous bool              `json:"anonymous,omitempty"`
	CreatedAt time.Time         `json:"createdAt"`
	Labels    map[string]string `json:"labels,omitempty"`
	// Users are the containers that mount it, by the IDs the caller gave
	// ([Store.Use]). A volume with none is dangling.
	Users []string `json:"users,omitempty"`
	// CopyUp is true until the volume is first mounted: then, if it is
	// empty, it is filled with the image's content at its target
	// ([Store.CopyUp]).
	CopyUp bool `json:"copyUp,omitempty"`

	// Mountpoint is the directory containers see, <store>/<name>/_data
	// (docker volume inspect's Mountpoint). Not stored: it follows the
	// store.
	Mountpoint string `json:"-"`
}

// Dangling reports whether no container uses v (docker volume ls -f
// dangling=true).
func (v Volume) Dangling() bool { return len(v.Users) == 0 }

// ErrNotFound is the error, wrapped, for a volume the store does not have.
var ErrNotFound = errors.New("no such volume")

// InUseError refuses to remove a volume that containers still use.
type InUseError struct {
	Name  string
	Users []string
}

func (e *InUseError) Error() string {
	return fmt.Sprintf("volume %s is in use by %s: remove them first (docker rm -v)", e.Name, strings.Join(e.Users, ", "))
}

// Store is a directory of volumes, one directory each (Docker's is
// /var/lib/docker/volumes; the capstone's /var/lib/unbox/volumes):
//
//	<dir>/.lock                  flock(2)ed by every change, so two processes never interleave
//	<dir>/<name>/_data/          the volume: what a container sees at its target
//	<dir>/<name>/volume.json     its record ([Volume]), replaced atomically
//
// A volume appears all at once: it is made under a temporary name and
// renamed to its own when complete; it is removed by renaming it away
// first. [Open] removes what a process killed half-way left of either, so
// the store is always a set of whole volumes.
type Store struct {
	dir string
	// Trace, when set, hears every change on disk.
	Trace Tracer
}

// Open opens the store in dir, an absolute path, making it (mode 0700: the
// volumes are reached through their mounts, not through the store) if it
// is missing, and clears what an interrupted change left.
func Open(dir string) (*Store, error) {
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("volume store %q: want an absolute path", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("volume store: %w", err)
	}
	// The real path, as the mount table names it (see removeTree).
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("volume store: %w", err)
	}
	s := &Store{dir: real}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("volume store: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), newPrefix) || strings.HasPrefix(e.Name(), rmPrefix) {
			errs = append(errs, s.removeTree(filepath.Join(s.dir, e.Name())))
		}
	}
	return s, errors.Join(errs...)
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// Path is where volume name's record and data live: <dir>/<name>.
func (s *Store) Path(name string) string { return filepath.Join(s.dir, name) }

// lock takes the store's lock, waiting for it.
func (s *Store) lock() (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(s.dir, lockFile), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("volume store lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("volume store lock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

// CreateOptions are what [Store.Create] records with a new volume.
type CreateOptions struct {
	Labels    map[string]string
	Anonymous bool
}

// Create makes the volume name, or a volume with a random ID when name is
// empty, and returns it; created is false when it existed already (then
// opts is ignored, as docker volume create does).
func (s *Store) Create(name string, opts CreateOptions) (v Volume, created bool, err error) {
	unlock, err := s.lock()
	if err != nil {
		return Volume{}, false, err
	}
	defer unlock()
	return s.create(name, opts)
}

func (s *Store) create(name string, opts CreateOptions) (Volume, bool, error) {
	if name == "" {
		id, err := NewID()
		if err != nil {
			return Volume{}, false, err
		}
		name = id
	}
	if err := ValidateName(name); err != nil {
		return Volume{}, false, err
	}
	if v, err := s.read(name); err == nil {
		return v, false, nil
	} else if !errors.Is(err, ErrNotFound) {
		return Volume{}, false, err
	}
	v := Volume{Name: name, Anonymous: opts.Anonymous, CreatedAt: time.Now().UTC().Truncate(time.Second),
		Labels: opts.Labels, CopyUp: true}
	tmp, err := os.MkdirTemp(s.dir, newPrefix)
	if err != nil {
		return Volume{}, false, fmt.Errorf("create volume %s: %w", name, err)
	}
	err = os.Mkdir(filepath.Join(tmp, dataDir), 0o755)
	if err == nil {
		err = writeRecord(tmp, v)
	}
	if err == nil {
		err = os.Rename(tmp, s.Path(name))
	}
	if err == nil {
		err = syncDir(s.dir)
	}
	if err != nil {
		os.RemoveAll(tmp)
		return Volume{}, false, fmt.Errorf("create volume %s: %w", name, err)
	}
	s.Trace.add(OpCreate, name, "mkdir -p %s", filepath.Join(s.Path(name), dataDir))
	v.Mountpoint = filepath.Join(s.Path(name), dataDir)
	return v, true, nil
}

// Get returns the volume name, or an error wrapping [ErrNotFound].
func (s *Store) Get(name string) (Volume, error) {
	unlock, err := s.lock()
	if err != nil {
		return Volume{}, err
	}
	defer unlock()
	return s.read(name)
}

// List returns every volume, by name. A directory that is not a whole
// volume (a record missing or unreadable) is left out and named in the
// error, next to the volumes that could be read.
func (s *Store) List() ([]Volume, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.list()
}

func (s *Store) list() ([]Volume, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("volume store: %w", err)
	}
	var out []Volume
	var errs []error
	for _, e := range entries {
		if ValidateName(e.Name()) != nil {
			continue // the lock, a half-made or half-removed volume
		}
		v, err := s.read(e.Name())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, v)
	}
	return out, errors.Join(errs...)
}

// Dangling lists the volumes no container uses.
func (s *Store) Dangling() ([]Volume, error) {
	vs, err := s.List()
	return slices.DeleteFunc(vs, func(v Volume) bool { return !v.Dangling() }), err
}

// Use records that container user mounts the volume name.
func (s *Store) Use(name, user string) (Volume, error) {
	return s.locked(name, func() error { return s.use(name, user) })
}

// Release records that container user no longer mounts the volume name.
// Releasing a volume the container did not use is not an error.
func (s *Store) Release(name, user string) (Volume, error) {
	return s.locked(name, func() error { return s.release(name, user) })
}

// locked runs op under the lock and returns the volume name after it.
func (s *Store) locked(name string, op func() error) (Volume, error) {
	unlock, err := s.lock()
	if err != nil {
		return Volume{}, err
	}
	defer unlock()
	if err := op(); err != nil {
		return Volume{}, err
	}
	return s.read(name)
}

func (s *Store) use(name, user string) error {
	return s.change(name, func(v *Volume) error {
		if user == "" || strings.ContainsAny(user, "\n\x00") {
			return fmt.Errorf("user %q: want a container's ID", user)
		}
		if !slices.Contains(v.Users, user) {
			v.Users = append(v.Users, user)
			sort.Strings(v.Users)
		}
		return nil
	})
}

func (s *Store) release(name, user string) error {
	return s.change(name, func(v *Volume) error {
		v.Users = slices.DeleteFunc(v.Users, func(u string) bool { return u == user })
		return nil
	})
}

// change rewrites a volume's record; the caller holds the lock.
func (s *Store) change(name string, fn func(*Volume) error) error {
	v, err := s.read(name)
	if err != nil {
		return err
	}
	if err := fn(&v); err != nil {
		return fmt.Errorf("volume %s: %w", name, err)
	}
	if err := writeRecord(s.Path(name), v); err != nil {
		return fmt.Errorf("volume %s: %w", name, err)
	}
	return nil
}

// Remove removes the volume name and everything in it. It refuses a volume
// in use (an *[InUseError]), and one with anything mounted in it on this
// host.
func (s *Store) Remove(name string) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return s.remove(name)
}

func (s *Store) remove(name string) error {
	v, err := s.read(name)
	if err != nil {
		return err
	}
	if len(v.Users) > 0 {
		return &InUseError{Name: name, Users: v.Users}
	}
	if err := s.removeTree(s.Path(name)); err != nil {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	s.Trace.add(OpRemove, name, "rm -rf %s", s.Path(name))
	return nil
}

// removeTree renames dir away, so that it stops being a volume at once,
// then removes it. os.RemoveAll opens each directory with O_NOFOLLOW and
// unlinks from its descriptor, so a symlink a container left in the volume
// is removed, never followed; what is mounted inside would be emptied, so
// a volume with a mount in it is refused.
func (s *Store) removeTree(dir string) error {
	if mounts := mountedUnder(dir); len(mounts) > 0 {
		return fmt.Errorf("%s is still mounted at %s: unmount it first", dir, strings.Join(mounts, ", "))
	}
	if !strings.HasPrefix(filepath.Base(dir), rmPrefix) {
		away, err := os.MkdirTemp(s.dir, rmPrefix)
		if err != nil {
			return err
		}
		if err := os.Rename(dir, filepath.Join(away, "v")); err != nil {
			os.Remove(away)
			return err
		}
		if err := syncDir(s.dir); err != nil {
			return err
		}
		dir = away
	}
	return os.RemoveAll(dir)
}

// Prune removes the dangling volumes: the anonymous ones, and with all the
// named ones too (docker volume prune [-a], Docker 23 and later). It
// returns the names of those it removed.
func (s *Store) Prune(all bool) ([]string, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	vs, err := s.list()
	var removed []string
	errs := []error{err}
	for _, v := range vs {
		if !v.Dangling() || (!v.Anonymous && !all) {
			continue
		}
		if err := s.remove(v.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, v.Name)
	}
	return removed, errors.Join(errs...)
}

// read reads a volume's record; the caller holds the lock.
func (s *Store) read(name string) (Volume, error) {
	if err := ValidateName(name); err != nil {
		return Volume{}, err
	}
	b, err := os.ReadFile(filepath.Join(s.Path(name), recordFile))
	if errors.Is(err, os.ErrNotExist) {
		if _, serr := os.Lstat(s.Path(name)); serr == nil {
			return Volume{}, fmt.Errorf("volume %s: %s has no %s: not a volume of this store (remove it, or restore the record)",
				name, s.Path(name), recordFile)
		}
		return Volume{}, fmt.Errorf("volume %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return Volume{}, fmt.Errorf("volume %s: %w", name, err)
	}
	var v Volume
	if err := json.Unmarshal(b, &v); err != nil || v.Name != name {
		return Volume{}, fmt.Errorf("volume %s: %s is damaged (%v): remove the volume, or restore the record",
			name, filepath.Join(s.Path(name), recordFile), err)
	}
	v.Mountpoint = filepath.Join(s.Path(name), dataDir)
	return v, nil
}

// writeRecord replaces dir's volume.json atomically: write a temporary
// file, fsync it, rename it over the record, fsync the directory. A crash
// leaves the old record or the new one, never half of one.
func writeRecord(dir string, v Volume) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+recordFile+"-")
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, recordFile))
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", filepath.Join(dir, recordFile), err)
	}
	return syncDir(dir)
}

// syncDir makes a rename or a new entry in dir durable (fsync(2) on the
// directory).
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// mountedUnder lists the mount points at dir or under it in this mount
// namespace.
func mountedUnder(dir string) []string {
	ms, err := procfs.ReadMountinfo("self")
	if err != nil {
		return nil
	}
	var out []string
	for _, m := range procfs.Mounts(ms).Under(dir) {
		out = append(out, m.Point)
	}
	return out
}
