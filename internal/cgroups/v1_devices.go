//go:build linux

package cgroups

// The v1 devices controller (Documentation/admin-guide/cgroup-v1/devices.rst):
// the kernel keeps each cgroup's list. Writing "a" to devices.deny empties
// it and denies everything by default; writing "a" to devices.allow empties
// it and allows everything; any other line ("c 1:3 rwm") adds accesses to
// the list if written to devices.allow and takes them away if written to
// devices.deny (or the other way round under allow-by-default).
// devices.list shows the result. A cgroup never gets more than its parent
// has.

import "path/filepath"

var v1Devices = v1Subsystem{name: "devices", set: setV1Devices}

func setV1Devices(m *v1Manager, dir string, r Resources) error {
	for _, w := range v1DeviceWrites(r.Devices) {
		if err := m.h.write(filepath.Join(dir, w[0]), w[1]); err != nil {
			return err
		}
	}
	return nil
}

// v1DeviceWrites are the writes (file, line) that give a cgroup the rules:
// everything denied first (unless the first rule already decides for every
// device), then each rule, in order. A rule for both types ('a') that does
// not decide everything becomes one line per type, since the kernel reads
// any "a" line as "every device, every access". Nil rules are no writes
// (leave the cgroup as it is); an empty list denies everything.
//
// Rewriting the list of a running container's cgroup denies it every
// device between the first write and the last: an update of the rules
// should be made only when they change.
func v1DeviceWrites(rules []DeviceRule) [][2]string {
	if rules == nil {
		return nil
	}
	var out [][2]string
	if len(rules) == 0 || !rules[0].everything() {
		out = append(out, [2]string{"devices.deny", "a"})
	}
	for _, d := range rules {
		file := "devices.deny"
		if d.Allow {
			file = "devices.allow"
		}
		switch {
		case d.everything():
			out = append(out, [2]string{file, "a"})
		case d.Type == 'a':
			for _, typ := range []byte{'c', 'b'} {
				d.Type = typ
				out = append(out, [2]string{file, d.String()})
			}
		default:
			out = append(out, [2]string{file, d.String()})
		}
	}
	return out
}
