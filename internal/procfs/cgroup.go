package procfs

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Cgroup is one line of /proc/<pid>/cgroup (cgroups(7)):
// "hierarchy-ID:controller-list:cgroup-path". The cgroup v2 line is
// "0::/path"; a v1 line names its hierarchy's controllers
// ("4:memory:/path", "3:cpu,cpuacct:/path", "1:name=systemd:/path").
// The path is relative to the reader's cgroup namespace root.
type Cgroup struct {
	ID          int
	Controllers []string
	Path        string
}

// ParseCgroup parses the text of a cgroup file.
func ParseCgroup(text string) ([]Cgroup, error) {
	var out []Cgroup
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if line == "" {
			continue
		}
		// The path may itself hold colons: split off the first two fields.
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			return nil, fmt.Errorf("/proc/<pid>/cgroup line %q: want ID:controllers:path", line)
		}
		id, err := strconv.Atoi(f[0])
		if err != nil {
			return nil, fmt.Errorf("/proc/<pid>/cgroup line %q: %w", line, err)
		}
		c := Cgroup{ID: id, Path: f[2]}
		if f[1] != "" {
			c.Controllers = strings.Split(f[1], ",")
		}
		out = append(out, c)
	}
	return out, nil
}

// ReadCgroup reads /proc/<pid>/cgroup.
func ReadCgroup(pid string) ([]Cgroup, error) {
	b, err := os.ReadFile("/proc/" + pid + "/cgroup")
	if err != nil {
		return nil, err
	}
	return ParseCgroup(string(b))
}

// CgroupPath returns the path in the v1 hierarchy that has controller
// ("memory", or "name=systemd" for a named one), or in the v2 tree when
// controller is "".
func CgroupPath(lines []Cgroup, controller string) (string, bool) {
	for _, l := range lines {
		if controller == "" && l.ID == 0 && len(l.Controllers) == 0 {
			return l.Path, true
		}
		for _, c := range l.Controllers {
			if controller != "" && c == controller {
				return l.Path, true
			}
		}
	}
	return "", false
}
