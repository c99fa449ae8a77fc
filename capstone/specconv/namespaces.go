//go:build linux

package specconv

import (
	"fmt"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/capstone/container"
)

// namespaceFlags are the spec's namespace types and their clone(2) flags.
var namespaceFlags = map[specs.LinuxNamespaceType]uintptr{
	specs.PIDNamespace:     unix.CLONE_NEWPID,
	specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.MountNamespace:   unix.CLONE_NEWNS,
	specs.IPCNamespace:     unix.CLONE_NEWIPC,
	specs.UTSNamespace:     unix.CLONE_NEWUTS,
	specs.UserNamespace:    unix.CLONE_NEWUSER,
	specs.CgroupNamespace:  unix.CLONE_NEWCGROUP,
	specs.TimeNamespace:    unix.CLONE_NEWTIME,
}

// NamespaceTypes lists the namespace types this runtime knows, sorted (for
// `features`).
func NamespaceTypes() []string {
	var out []string
	for t := range namespaceFlags {
		out = append(out, string(t))
	}
	sort.Strings(out)
	return out
}

func convertNamespaces(l *specs.Linux) ([]container.Namespace, error) {
	var out []container.Namespace
	seen := map[specs.LinuxNamespaceType]bool{}
	for _, ns := range l.Namespaces {
		flag, ok := namespaceFlags[ns.Type]
		if !ok {
			return nil, fmt.Errorf("linux.namespaces: unknown namespace type %q (known: %s)", ns.Type, strings.Join(NamespaceTypes(), ", "))
		}
		if seen[ns.Type] {
			return nil, fmt.Errorf("linux.namespaces: %q listed twice", ns.Type)
		}
		seen[ns.Type] = true
		if ns.Path != "" && !strings.HasPrefix(ns.Path, "/") {
			return nil, fmt.Errorf("linux.namespaces: %s path %q is not absolute", ns.Type, ns.Path)
		}
		if ns.Type == specs.TimeNamespace {
			// A time namespace is entered by the children of whoever made
			// it, and setns(2) into one refuses a multi-threaded caller.
			return nil, fmt.Errorf("linux.namespaces: time namespaces are not supported by unbox-runtime")
		}
		if ns.Type == specs.UserNamespace && ns.Path != "" {
			// setns(2): "A multithreaded process may not change user
			// namespace"; a Go program is multi-threaded from its first
			// instruction, and runc does this part in C.
			return nil, fmt.Errorf("linux.namespaces: joining the user namespace %s is not supported by unbox-runtime "+
				"(setns(2) refuses a multi-threaded process, and a Go program always is one)", ns.Path)
		}
		out = append(out, container.Namespace{Type: string(ns.Type), Flag: flag, Path: ns.Path})
	}
	if len(l.TimeOffsets) > 0 {
		return nil, fmt.Errorf("linux.timeOffsets: time namespace offsets are not supported by unbox-runtime")
	}
	userns := seen[specs.UserNamespace]
	if userns && len(l.UIDMappings) == 0 {
		return nil, fmt.Errorf("linux.namespaces: a new user namespace needs linux.uidMappings and gidMappings")
	}
	if !userns && len(l.UIDMappings)+len(l.GIDMappings) > 0 {
		return nil, fmt.Errorf("linux.uidMappings: mappings need a new user namespace in linux.namespaces")
	}
	return out, nil
}

func convertIDMaps(ms []specs.LinuxIDMapping) []container.IDMap {
	var out []container.IDMap
	for _, m := range ms {
		out = append(out, container.IDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
	}
	return out
}
