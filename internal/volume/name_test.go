package volume_test

import (
	"strings"
	"testing"

	"github.com/unboxlab/unbox/internal/volume"
)

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"data", "db1", "my-volume_2.bak", "0a", "A.", strings.Repeat("x", 255)} {
		if err := volume.ValidateName(ok); err != nil {
			t.Errorf("ValidateName(%q) = %v; want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "a", "..", ".", ".data", "-x", "_x", "data/x", "../etc", "a/../b", "/data",
		"da ta", "data\n", "ümlaut", "a:b", strings.Repeat("x", 256)} {
		if err := volume.ValidateName(bad); err == nil {
			t.Errorf("ValidateName(%q) = nil; want an error", bad)
		}
	}
	if err := volume.ValidateName("data/../x"); err == nil || !strings.Contains(err.Error(), "give its absolute path") {
		t.Errorf("ValidateName(data/../x) = %v; want it to say how to bind a host directory", err)
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id, err := volume.NewID()
		if err != nil {
			t.Fatal(err)
		}
		if !volume.IsID(id) || volume.ValidateName(id) != nil {
			t.Errorf("NewID() = %q; want 64 hexadecimal digits, a valid name", id)
		}
		if seen[id] {
			t.Fatalf("NewID() returned %s twice", id)
		}
		seen[id] = true
	}
	for _, notID := range []string{"data", strings.Repeat("A", 64), strings.Repeat("a", 63)} {
		if volume.IsID(notID) {
			t.Errorf("IsID(%q) = true", notID)
		}
	}
}
