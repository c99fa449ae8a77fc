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
// Code that must run inside new namespaces uses the one re-exec pattern of this
// project ([RegisterInit], [NewChild]): the program starts itself again as
// "<program> init <stage>", the kernel puts that new process into the
// namespaces, and parent and child talk over an inherited socket. Lesson 01's
// README explains why Go needs this.
//
// [Rootfs] builds the small root filesystem that lessons 03 onward enter,
// from the host's static busybox or, failing that, from the host's own shell
// and tools with the shared libraries they load.
//
// The test side of the kit lives in package kittest.
package kit
