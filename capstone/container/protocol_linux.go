package container

import (
	"github.com/unboxlab/unbox/internal/mount"
)

// The messages between the runtime (the parent) and the container's init
// or exec'd process (the child), JSON over internal/reexec's socket. The
// exchange is short on purpose: one request, at most one round for the
// runtime's hooks, one "ready", one "go".
//
//	parent                                child (init)
//	  request{Config, Mounts, ...}  ──▶   namespaces, mounts
//	                                ◀──   {"stage":"hooks"}   (only with hooks)
//	  prestart, createRuntime hooks
//	  reply{State}                  ──▶   createContainer hooks, pivot_root,
//	                                      paths, user, capabilities
//	                                ◀──   {"stage":"ready"}
//	  record the PID, --pid-file
//	  reply{Go}                     ──▶   wait on exec.fifo (create) and exec
//
// The child's descriptors: 3 the socket, then those below, then the
// preserved ones. A slot with nothing to hold holds this program again.
const (
	exeFD      = 4 // this program, read-only (sealedExe): the child runs as /proc/self/fd/4
	fifoFD     = 5 // init: exec.fifo, O_PATH; exec: the container's mount namespace
	cgroupNSFD = 6 // the cgroup namespace to join, if any
	consoleFD  = 7 // the console socket, when a terminal is asked for
)

// initRequest is what the parent sends the init.
type initRequest struct {
	ID     string  `json:"id"`
	Config *Config `json:"config"`
	// Mounts are Config.Mounts expanded for this host: cgroup mounts
	// resolved, propagation changes as separate entries.
	Mounts []mount.Mount `json:"mounts"`
	// Links are made under the root after Mounts: the names of co-mounted
	// cgroup v1 hierarchies (cpu -> cpu,cpuacct).
	Links []mount.Symlink `json:"links,omitempty"`
	// MakeDevices is false when /dev comes from the host (a bind mount).
	MakeDevices bool `json:"makeDevices"`
	// BindDevices binds the host's device nodes instead of mknod(2),
	// which a user namespace does not allow.
	BindDevices bool `json:"bindDevices,omitempty"`
	// Hooks asks the init to stop for the runtime's hooks before
	// pivot_root.
	Hooks bool `json:"hooks,omitempty"`
	// JoinCgroupNS: join the cgroup namespace at cgroupNSFD (one the
	// spec names by path) rather than make one.
	JoinCgroupNS bool `json:"joinCgroupNS,omitempty"`
	// Console: the console socket is at consoleFD.
	Console bool `json:"console,omitempty"`
	// PreserveFDs are passed after the console socket (or at
	// consoleFD when there is none) and moved to 3, 4, ... before exec.
	PreserveFDs int `json:"preserveFDs,omitempty"`
	// FreshMountNS: the init's mount namespace is new, made by its own
	// clone, so nobody else is in it (mount.PivotRootFresh).
	FreshMountNS bool `json:"freshMountNS,omitempty"`
	// Fifo: wait on exec.fifo at fifoFD before exec (create); without it
	// the init execs once told to go (nothing else waits for start).
	Fifo bool `json:"fifo"`
}

// childMessage is what the child says: the stage it has reached.
type childMessage struct {
	Stage string `json:"stage"`
}

// parentReply answers a childMessage.
type parentReply struct {
	// State is the container's state, for the hooks the child runs.
	State *State `json:"state,omitempty"`
	// Go lets the child go on to exec.
	Go bool `json:"go,omitempty"`
	// Detached: the runtime will not be listening after Go (create), so
	// the child reports a later failure on its stderr.
	Detached bool `json:"detached,omitempty"`
}
