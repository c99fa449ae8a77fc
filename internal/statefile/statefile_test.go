package statefile_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/unboxlab/unbox/internal/statefile"
)

// TestWriteReplacesWhole: the file is the new content after Write, with
// no temporary file left beside it.
func TestWriteReplacesWhole(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	if err := statefile.WriteJSON(p, map[string]int{"a": 1}, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := statefile.WriteJSON(p, map[string]int{"a": 2}, 0o600); err != nil {
		t.Fatal(err)
	}
	var v map[string]int
	if err := statefile.ReadJSON(p, &v); err != nil || v["a"] != 2 {
		t.Errorf("ReadJSON = %v, %v; want a=2", v, err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v; want 0600", fi.Mode().Perm())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("the directory holds %d files; want the state file alone", len(ents))
	}
	if err := statefile.Write(filepath.Join(dir, "no", "such"), nil, 0o600); err == nil {
		t.Error("Write into a missing directory succeeded")
	}
}

// TestLockExcludes: a second exclusive lock waits (TryLock fails) until
// the first is released; shared locks coexist.
func TestLockExcludes(t *testing.T) {
	dir := t.TempDir()
	unlock, err := statefile.Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := statefile.TryLock(dir); !errors.Is(err, statefile.ErrLocked) {
		t.Errorf("TryLock of a held lock = %v; want ErrLocked", err)
	}
	unlock()
	u2, err := statefile.TryLock(dir)
	if err != nil {
		t.Fatalf("TryLock after unlock = %v", err)
	}
	u2()
	s1, err := statefile.LockShared(dir)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := statefile.LockShared(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := statefile.TryLock(dir); !errors.Is(err, statefile.ErrLocked) {
		t.Errorf("TryLock while shared locks are held = %v; want ErrLocked", err)
	}
	s1()
	s2()
	if _, err := statefile.Lock(filepath.Join(dir, "missing")); err == nil {
		t.Error("Lock of a missing path succeeded")
	}
}
