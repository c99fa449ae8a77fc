// Package specconv turns an OCI bundle's config.json (the runtime-spec's Go
// types, github.com/opencontainers/runtime-spec) into a [container.Config]:
// names become numbers (namespaces become clone(2) flags, capabilities and
// rlimits their constants, mount options mount(2) flags and data, a seccomp
// profile a BPF program), and everything is checked where it enters, so that
// bad input fails `unbox-runtime create` with a message before any process,
// mount or cgroup exists.
//
// It is runc's libcontainer/specconv, in the same place in the design: the
// CLI loads the bundle ([Load]), converts it ([Convert]) and hands the plain
// data to package container. [Example] is the config.json that
// `unbox-runtime spec` writes.
//
// What the spec asks for and this runtime refuses, rather than ignores:
// idmapped mounts, a seccomp listener (SCMP_ACT_NOTIFY), joining a user
// namespace by path, a time namespace with offsets, and a sysctl that is not
// namespaced (it would change the host).
package specconv
