// Package statefile keeps state on disk the way a container engine must:
// each file written whole or not at all, and each change made under a
// lock, so that two commands at once never interleave and a command
// killed at any point (SIGKILL, a power cut) leaves the old file or the
// new one, never half of one.
//
//   - Write: the data goes to a temporary file in the same directory,
//     which is fsync(2)ed, then rename(2)d over the target (rename is
//     atomic within a file system), then the directory is fsynced so the
//     rename itself is durable. On a tmpfs (/run), where nothing survives
//     a reboot anyway, the two fsyncs are skipped: they cost milliseconds
//     each on a disk and nothing there.
//   - Lock: flock(2) on a file or a directory. The kernel releases it
//     when the holder's last descriptor closes, so a killed command never
//     leaves a lock taken, and nothing needs cleaning up after it.
//
// Used by the capstone's engine for its container records and run state.
// (The runtime, the image layout and the volume store keep the same rules
// with helpers of their own, written before this package.)
package statefile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Write replaces path with data, atomically (see the package
// documentation). The temporary file is named ".<base>.tmp-*" beside it.
func Write(path string, data []byte, perm os.FileMode) error {
	return WriteFrom(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFrom is Write of what write writes, streamed (an archive too large
// to hold in memory): path is replaced only if write returns nil.
func WriteFrom(path string, perm os.FileMode, write func(w io.Writer) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after the rename there is nothing to remove
	durable := !onTmpfs(dir)
	err = write(tmp)
	if err == nil {
		err = tmp.Chmod(perm)
	}
	if err == nil && durable {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err == nil && durable {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// WriteJSON is Write of v, marshalled with indentation (state a person may
// read).
func WriteJSON(path string, v any, perm os.FileMode) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return Write(path, append(b, '\n'), perm)
}

// ReadJSON reads path into v.
func ReadJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}

// ErrLocked is the error of TryLock for a lock another holder has.
var ErrLocked = errors.New("locked by another process")

// Lock takes an exclusive flock(2) on path, a file or a directory that
// must exist, waiting for it; unlock releases it.
func Lock(path string) (unlock func(), err error) { return lock(path, unix.LOCK_EX) }

// LockShared takes a shared lock: many holders at once, none while an
// exclusive lock is held.
func LockShared(path string) (unlock func(), err error) { return lock(path, unix.LOCK_SH) }

// TryLock is Lock without waiting: ErrLocked if another holder has it.
func TryLock(path string) (unlock func(), err error) { return lock(path, unix.LOCK_EX|unix.LOCK_NB) }

func lock(path string, how int) (func(), error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, &os.PathError{Op: "open", Path: path, Err: err})
	}
	for {
		err = unix.Flock(fd, how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		if err == unix.EWOULDBLOCK {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { unix.Close(fd) }, nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
