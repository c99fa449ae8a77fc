// Package procfs reads the text files the kernel keeps under /proc for each
// process (proc(5)): the mount table (mountinfo), the process's status line
// (stat), its status fields (status), its environment (environ) and its
// cgroups (cgroup). It is the one parser of each in unbox.
//
// Each file has a pure Parse function, tested against real text in
// testdata/, and a Read function that reads /proc/<pid>/<file>. pid is the
// name of a directory under /proc: a number, "self" or "thread-self".
//
// Paths in these files are relative to the root of the process reading them,
// and only what that process can reach is listed: the host reading a
// container's mountinfo sees the container's view of its own mounts.
//
// Taught by: lesson 01 (/proc/<pid>/ns, stat, cgroup), lesson 02
// (/proc/<pid>/cgroup), lesson 03 (mountinfo, propagation), lesson 04 (the
// overlay's options as mounted). Used by the capstone to find a container's
// processes and mounts, and by the tests' leak checks.
package procfs
