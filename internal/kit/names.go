package kit

import (
	"fmt"
	"os"
)

// UniqueName names a host object (a cgroup, a directory, a mount point) so
// that it carries the project's prefix, says what it is, and does not clash
// with another run: "unbox-<what>-<pid>". Tests normalise the PID away.
func UniqueName(what string) string {
	return fmt.Sprintf("unbox-%s-%d", what, os.Getpid())
}
