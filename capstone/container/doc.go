// Package container is unbox-runtime's lifecycle library, runc's
// libcontainer in small: a container made from a [Config] ([Create]), its
// init waiting in the container until [Container.Start], then signalled,
// paused, updated, joined ([Container.Exec]) and deleted, with its state on
// disk in between. The CLI in capstone/cmd/unbox-runtime is a thin layer on
// it; the engine (capstone/cmd/unbox) drives the binary, as podman drives
// runc.
//
// # Lifecycle
//
// The runtime-spec's states (runtime.md, "Lifecycle"), derived, never
// stored: a container is
//
//   - creating while `create` runs (its record names no init yet);
//   - created when its init is alive and waits on the exec FIFO;
//   - running when the init is alive and the FIFO is gone (started);
//   - paused (runc's extension) when its cgroup is frozen;
//   - stopped when the init is gone, a zombie, or a different process
//     under a reused PID (the recorded start time does not match).
//
// # Processes
//
// `create` (the parent) makes the cgroup, then starts the init: this
// program again, "unbox-runtime init container" (internal/reexec), in new
// namespaces (clone(2) flags), inside the cgroup from its first instruction
// where the kernel can (CLONE_INTO_CGROUP). The configuration goes to the
// init as one JSON message over the socket; the init builds the root
// filesystem, drops privileges, says "ready", and waits. `create` records
// the init's PID and start time and exits; the init is left to the caller's
// subreaper. `start` opens the FIFO the init is blocked on; the init execs
// the container's process.
//
// [Container.Exec] goes through internal/nsenter: a raw fork of the caller,
// with no Go code running after it, joins the init's namespaces (its user
// namespace too, last) from inside the container's cgroup, takes the
// process's user, capabilities (cut to what the runtime holds), limits,
// no_new_privs and the container's seccomp filter, in runc's order, and
// execs the program: as confined as the container's first process.
//
// # Two CVEs
//
// The init runs this program's file inside the container. It is re-executed
// through a read-only, detached bind mount of that file (open_tree(2) with
// OPEN_TREE_CLONE, mount_setattr(2) MOUNT_ATTR_RDONLY), so /proc/<pid>/exe
// leads to a read-only mount and cannot be opened for writing from inside
// (CVE-2019-5736); it costs two system calls, where copying the binary into
// a sealed memfd (runc's first fix, kept here as the fallback) costs a copy
// of the whole file per container. No descriptor of the runtime reaches the
// container's process: everything above stdio is close-on-exec, and a
// working directory outside the root is refused (CVE-2024-21626; see
// internal/reexec, and internal/nsenter for exec).
//
// # Go and namespaces
//
// setns(2) and unshare(2) change the calling thread. The init's stage runs
// on its locked main thread and execs from it, so what that thread joined
// is what the container's process gets. Joining a PID namespace affects the
// children of the thread, so the parent joins it (on a locked thread)
// before starting the child. A user namespace cannot be joined by a
// multi-threaded process at all; runc does that in C before the Go runtime
// starts, internal/nsenter in a forked child that runs no Go runtime.
package container
