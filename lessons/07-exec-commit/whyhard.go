//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/nsenter"
	"github.com/unboxlab/unbox/internal/procfs"
)

// onThread runs fn on a thread of its own, which the Go runtime ends when
// fn returns, so no other goroutine ever runs in the namespaces fn joined
// (nsenter.OnThrowawayThread: the plain recipe, a goroutine that returns
// still locked, parks the main thread instead when it lands there).
func onThread(fn func()) {
	_ = nsenter.OnThrowawayThread(func() error { fn(); return nil })
}

// try is one attempt of step 3: a setns(2) and what it did.
type try struct {
	What, Result string
	// Then is what it means: a format and its arguments, translated
	// when the table is printed (the tries run on threads of their own,
	// without the narrator); an argument of type words is words too.
	Then     string
	ThenArgs []any
}

// words is an argument of Then that is words, not data.
type words string

// setnsResult is "ok" or the errno's name, as the man page spells it.
func setnsResult(err error) string {
	var e syscall.Errno
	if errors.As(err, &e) {
		return unix.ErrnoName(e)
	}
	if err != nil {
		return err.Error()
	}
	return "ok"
}

// joinTries joins each namespace of pid from a thread of this process.
func joinTries(pid int) ([]try, error) {
	ns := func(kind nsenter.Namespace) (*os.File, error) {
		return os.Open(fmt.Sprintf("/proc/%d/ns/%s", pid, kind))
	}
	var tries []try
	var ferr error
	join := func(kind nsenter.Namespace, fn func(f *os.File) try) {
		f, err := ns(kind)
		if err != nil {
			ferr = errors.Join(ferr, err)
			return
		}
		defer f.Close()
		onThread(func() { tries = append(tries, fn(f)) })
	}
	hostname, _ := os.Hostname()

	join(nsenter.UTS, func(f *os.File) try {
		err := unix.Setns(int(f.Fd()), unix.CLONE_NEWUTS)
		t := try{What: "uts", Result: setnsResult(err)}
		var u unix.Utsname
		if err == nil && unix.Uname(&u) == nil {
			// os.Hostname on another goroutine reads the host's.
			other := make(chan string)
			go func() { h, _ := os.Hostname(); other <- h }()
			var otherName any = words("the host's name")
			if o := <-other; o != hostname {
				otherName = o
			}
			t.Then, t.ThenArgs = "hostname: %s; on the other threads: %s", []any{unix.ByteSliceToString(u.Nodename[:]), otherName}
		}
		return t
	})
	join(nsenter.Mount, func(f *os.File) try {
		err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNS)
		return try{What: "mnt", Result: setnsResult(err), Then: "the threads share one root and working directory (CLONE_FS)"}
	})
	join(nsenter.Mount, func(f *os.File) try {
		t := try{What: "mnt, after unshare(CLONE_FS)"}
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			t.Result = "unshare: " + setnsResult(err)
			return t
		}
		err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNS)
		t.Result = setnsResult(err)
		if err == nil {
			b, rerr := os.ReadFile("/etc/hostname")
			if rerr != nil {
				t.Then, t.ThenArgs = "%s", []any{rerr.Error()}
			} else {
				t.Then, t.ThenArgs = "cat /etc/hostname: %s", []any{string(bytes.TrimSpace(b))}
			}
		}
		return t
	})
	join(nsenter.PID, func(f *os.File) try {
		before := unix.Getpid()
		err := unix.Setns(int(f.Fd()), unix.CLONE_NEWPID)
		t := try{What: "pid", Result: setnsResult(err)}
		if err == nil {
			var mine, theirs unix.Stat_t
			unix.Stat("/proc/thread-self/ns/pid_for_children", &mine)
			unix.Stat(fmt.Sprintf("/proc/%d/ns/pid", pid), &theirs)
			kids := words("the host's")
			if mine.Ino == theirs.Ino {
				kids = words("the container's")
			}
			same := words("unchanged")
			if unix.Getpid() != before {
				same = words("changed")
			}
			t.Then, t.ThenArgs = "getpid(): %s; pid_for_children: %s", []any{same, kids}
		}
		return t
	})
	join(nsenter.User, func(f *os.File) try {
		err := unix.Setns(int(f.Fd()), unix.CLONE_NEWUSER)
		return try{What: "user", Result: setnsResult(err), Then: "a multi-threaded process may not change user namespace"}
	})
	return tries, ferr
}

func (st *state) stepWhyHard(s *kit.Session) error {
	c, err := st.running()
	if err != nil {
		return err
	}
	status, err := procfs.ReadStatus("self")
	if err != nil {
		return err
	}
	s.Cmd("grep Threads /proc/%d/status    # this lesson, a Go program", os.Getpid())
	s.Host("Threads: %s", status["Threads"])
	tries, err := joinTries(c.Pid())
	if err != nil {
		return err
	}
	s.Cmd("# one goroutine per line, locked to its thread (runtime.LockOSThread), which ends with it:\n" +
		"setns(open(\"/proc/$PID/ns/<namespace>\"), CLONE_NEW<...>)")
	var rows [][]string
	for _, t := range tries {
		args := make([]any, len(t.ThenArgs))
		for i, a := range t.ThenArgs {
			if w, ok := a.(words); ok {
				a = s.T(string(w))
			}
			args[i] = a
		}
		then := ""
		if t.Then != "" {
			then = s.T(t.Then, args...)
		}
		rows = append(rows, []string{t.What, t.Result, then})
	}
	s.Table([]string{"setns of", "result", "what it means"}, rows)
	s.Note("A locked thread can join a UTS, IPC, network or cgroup namespace; the mount namespace only\n" +
		"after unshare(CLONE_FS); a PID namespace only for its future children; a user namespace (and a\n" +
		"time namespace: EUSERS) not at all, while the process has more than one thread. runc gets a\n" +
		"process with one thread by running C before Go starts: its nsexec constructor, built with cgo.")
	s.Say("\ninternal/nsenter does the same without C, with a raw clone(2): the child has one thread and\n" +
		"runs nothing but system calls until it execs, as Go's own fork/exec code does:")
	s.Show("%s", s.T(strings.Join([]string{
		"  this lesson ── clone ──▶ child 1: waits until it is in web's cgroup",
		"                                    setns cgroup, ipc, uts, net, pid, mnt, user (last)",
		"                                    clone(CLONE_PARENT) ──▶ child 2: in the PID namespace,",
		"                                    reports child 2, exits        the lesson's child; sets its",
		"                                                                  stdio, user, directory; execs",
	}, "\n")))
	return nil
}
