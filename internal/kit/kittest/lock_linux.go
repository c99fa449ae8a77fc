package kittest

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// lockPath serialises privileged test binaries on one host. `go test ./...`
// runs several packages at once; without the lock, one package's leak check
// would see another's cgroups and mounts come and go.
const lockPath = "/run/unbox/tests.lock"

// lockHost takes the host-wide test lock, waiting for it. Without root
// there is nothing privileged to serialise.
func lockHost() (unlock func(), err error) {
	if os.Geteuid() != 0 {
		return func() {}, nil
	}
	if err := os.MkdirAll("/run/unbox", 0o755); err != nil {
		return nil, fmt.Errorf("test lock: %w", err)
	}
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("test lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("test lock %s: %w", lockPath, err)
	}
	return func() { f.Close() }, nil
}
