//go:build linux

package cgroups

// The v1 freezer controller (Documentation/admin-guide/cgroup-v1/freezer-subsystem.rst):
// writing FROZEN to freezer.state starts freezing every task in the cgroup
// and below it; the file reads FREEZING until all have stopped, then
// FROZEN. Kill uses it so that nothing forks while it signals.

import (
	"fmt"
	"strings"
)

var v1Freezer = v1Subsystem{name: "freezer"}

func (m *v1Manager) freeze(state string) error {
	if !m.has("freezer") {
		return fmt.Errorf("freeze %s: the cgroup was made without the freezer controller (Config.Controllers %v)", m.Path(), m.c.Controllers)
	}
	f := m.File("freezer.state")
	if err := m.h.write(f, state); err != nil {
		return err
	}
	return waitFor(f, func(text string) bool { return strings.TrimSpace(text) == state })
}
