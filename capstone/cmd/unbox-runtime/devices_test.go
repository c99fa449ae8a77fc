//go:build linux

package main

import (
	"maps"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/unboxlab/unbox/internal/kit/kittest"
)

// devicesProbe tries, as root in the container with CAP_MKNOD, to make
// and open device nodes, and prints "name=ok" or the error's last words.
// The node of a disk (sda, b 8:0) and of /dev/loop-control (c 10:237) can
// be made (runc's defaults allow mknod of any node) but not opened: EPERM
// from the device cgroup, where without it the open would reach the
// driver (ENXIO for a disk that is not there, success for loop-control).
// /dev/null and /dev/zero are the defaults'. /dev/fuse is in linux.devices
// and not in linux.resources.devices: the node is made, and opening it is
// denied (runc reads the spec so: access is for the rules to give).
// /dev/fuse in the other container, also in the rules, is opened: its open
// reaches the driver (ok, or ENODEV without the fuse module).
const devicesProbe = `
try() { k=$1; shift; if e=$("$@" 2>&1 >/dev/null); then echo "$k=ok"; else echo "$k=${e##*: }"; fi; }
try mknod-sda mknod /dev/sda b 8 0
try open-sda sh -c 'exec 3</dev/sda'
try mknod-loop-control mknod /dev/loop-control c 10 237
try open-loop-control sh -c 'exec 3</dev/loop-control'
try write-null sh -c 'echo x >/dev/null'
try read-zero head -c1 /dev/zero
r=$(sh -c 'exec 3</dev/fuse' 2>&1) && echo fuse=allowed || case "$r" in *"not permitted"*) echo "fuse=${r##*: }";; *) echo fuse=allowed;; esac
`

// devicesSpec runs devicesProbe as root with CAP_MKNOD, /dev/fuse made;
// with fuseRule, a rule allows it too.
func devicesSpec(fuseRule bool) func(s *specs.Spec) {
	return func(s *specs.Spec) {
		s.Process.Args = []string{"sh", "-c", devicesProbe}
		caps := []string{"CAP_MKNOD", "CAP_DAC_OVERRIDE"}
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
		s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229}}
		if fuseRule {
			major, minor := int64(10), int64(229)
			s.Linux.Resources.Devices = append(s.Linux.Resources.Devices,
				specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: &major, Minor: &minor, Access: "rwm"})
		}
	}
}

// wantDevices is what devicesProbe prints; fuse as allowed.
func wantDevices(fuse string) map[string]string {
	return map[string]string{
		"mknod-sda":          "ok",
		"open-sda":           "Operation not permitted",
		"mknod-loop-control": "ok",
		"open-loop-control":  "Operation not permitted",
		"write-null":         "ok",
		"read-zero":          "ok",
		"fuse":               fuse,
	}
}

// TestPrivDeviceCgroup: a container that can make device nodes cannot
// open those its rules do not allow, on cgroup v1 (the devices
// controller) and v2 (the BPF filter), and can open those they do.
func TestPrivDeviceCgroup(t *testing.T) {
	privileged(t)
	for _, c := range []struct {
		fuseRule bool
		want     string
	}{{false, "Operation not permitted"}, {true, "allowed"}} {
		res := newRT(t).run("run", "--bundle", bundle(t, devicesSpec(c.fuseRule)), "ubx-devices")
		if res.code != 0 {
			t.Fatalf("run: %s", res)
		}
		if got, want := facts(res.stdout), wantDevices(c.want); !maps.Equal(got, want) {
			t.Errorf("the container's device accesses (a rule for /dev/fuse: %v):\n%v\nwant\n%v", c.fuseRule, got, want)
		}
	}
}

// TestPrivPeerDiffRuncDevices: runc, with the same bundle (/dev/fuse in
// the rules), allows and denies the same accesses.
func TestPrivPeerDiffRuncDevices(t *testing.T) {
	privileged(t)
	kittest.Require(t, needRunc)
	b := bundle(t, func(s *specs.Spec) {
		devicesSpec(true)(s)
		s.Linux.CgroupsPath = "/unbox-diff/devices"
	})
	a := newRT(t).run("run", "--bundle", b, "ubx-diff-devices")
	c := peerRunc(t).run("run", "--bundle", b, "ubx-diff-devices")
	t.Cleanup(func() { rmdirCgroup("/unbox-diff/devices") })
	fa, fc := facts(a.stdout), facts(c.stdout)
	if a.code != 0 || c.code != 0 {
		t.Fatalf("unbox-runtime: %s\nrunc: %s", a, c)
	}
	for _, k := range slices.Sorted(maps.Keys(wantDevices(""))) {
		if fa[k] != fc[k] {
			t.Errorf("%s: unbox-runtime %q, runc %q", k, fa[k], fc[k])
		}
	}
}
