// Package kit is the plumbing every unbox lesson shares, so that a lesson's own
// lines are about its kernel mechanism and nothing else.
//
// A lesson is a [Lesson]: a title, what it needs from the host ([Need]) and a
// list of numbered [Step]s. [Main] and [Run] turn it into a program with the
// workshop flags (--list, --step N, --only N, --pause, --shell), check the
// needs before any step runs ([Preflight]) and narrate each step through a
// [Session]:
//
//	Step 2/8 · UTS namespace
//	  A UTS namespace has its own hostname ...
//
//	  $ unshare --uts sh -c 'hostname unbox-01; hostname'
//	  inside │ hostname: unbox-01
//	  host   │ hostname: vm (unchanged)
//
// The kit is lesson UX only. The mechanisms a lesson narrates live in
// concept packages it calls, which the capstone runs too and which never
// print: internal/reexec (running code in new namespaces), internal/procfs,
// internal/mount, internal/rootfs and the others under internal/. [Main]
// runs a re-exec'd child's stage (reexec.Init) before anything else; a
// [Need] may call a mechanism package's probe.
//
// The test side of the kit lives in package kittest.
package kit
