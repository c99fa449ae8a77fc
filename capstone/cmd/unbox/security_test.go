//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPrivSecurityOpt: containers run under Docker's default seccomp
// profile (unshare(CLONE_NEWUSER) refused, as Docker refuses it without
// CAP_SYS_ADMIN), exec'd processes too; seccomp=unconfined and --privileged
// run without a filter; a profile file is read at create and applied;
// no-new-privileges sets the flag; bad options make nothing (125).
func TestPrivSecurityOpt(t *testing.T) {
	e := newEnv(t)
	status := func(args ...string) string {
		t.Helper()
		cmd := append([]string{"run", "--rm", "--network", "none"}, args...)
		return e.ok(append(cmd, "unbox/busybox", "grep", "-E", "^(Seccomp|NoNewPrivs):", "/proc/self/status")...).stdout
	}
	if got := status(); !strings.Contains(got, "Seccomp:\t2") || !strings.Contains(got, "NoNewPrivs:\t0") {
		t.Errorf("default: %q; want a seccomp filter (2) and no_new_privs off", got)
	}
	for _, flags := range [][]string{{"--security-opt", "seccomp=unconfined"}, {"--privileged"}} {
		if got := status(flags...); !strings.Contains(got, "Seccomp:\t0") {
			t.Errorf("%s: %q; want no filter (0)", flags, got)
		}
	}
	if got := status("--security-opt", "no-new-privileges"); !strings.Contains(got, "NoNewPrivs:\t1") || !strings.Contains(got, "Seccomp:\t2") {
		t.Errorf("no-new-privileges: %q; want NoNewPrivs 1 and the filter", got)
	}

	// What the default profile is for: a user namespace, which needs no
	// capability, is refused; unconfined, the same call works.
	if r := e.run("run", "--rm", "--network", "none", "--security-opt", "seccomp=unconfined", "unbox/busybox", "unshare", "-U", "true"); r.code != 0 {
		t.Fatalf("unshare -U, unconfined: %s; want it to work (are user namespaces off on this kernel?)", r)
	}
	if r := e.run("run", "--rm", "--network", "none", "unbox/busybox", "unshare", "-U", "true"); r.code == 0 || !strings.Contains(r.stderr+r.stdout, "Operation not permitted") {
		t.Errorf("unshare -U under the default profile: %s; want Operation not permitted", r)
	}
	e.ok("run", "-d", "--name", "filtered", "--network", "none", "unbox/busybox", "sleep", "600")
	if got := e.ok("exec", "filtered", "grep", "^Seccomp:", "/proc/self/status").stdout; !strings.Contains(got, "Seccomp:\t2") {
		t.Errorf("exec into a filtered container: %q; want the filter", got)
	}
	e.ok("rm", "-f", "filtered")

	// A profile of one's own: mkdir refused with EPERM, the rest allowed.
	profile := filepath.Join(t.TempDir(), "nomkdir.json")
	os.WriteFile(profile, []byte(`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
		{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}`), 0o644)
	e.ok("create", "--name", "nomkdir", "--network", "none", "--security-opt", "seccomp="+profile, "unbox/busybox", "sh", "-c", "mkdir /tmp/x || echo refused; echo ran")
	os.WriteFile(profile, []byte(`{"defaultAction": "SCMP_ACT_ALLOW"}`), 0o644) // read at create: no effect now
	if got := e.ok("start", "-a", "nomkdir").stdout + e.ok("logs", "nomkdir").stderr; !strings.Contains(got, "refused") || !strings.Contains(got, "ran") {
		t.Errorf("a profile refusing mkdir: %q; want mkdir refused and the rest run", got)
	}
	if opts := e.inspect("nomkdir").HostConfig.SecurityOpt; len(opts) != 1 || !strings.Contains(opts[0], `"mkdirat"`) {
		t.Errorf("SecurityOpt = %q; want the profile's JSON, as Docker keeps it", opts)
	}
	e.ok("rm", "nomkdir")

	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"defaultAction": `), 0o644)
	for _, tc := range []struct{ opt, want string }{
		{"seccomp=/nonexistent/profile.json", "no such file"},
		{"seccomp=" + bad, "Decoding seccomp profile"},
		{"seccomp", "seccomp=unconfined or seccomp=PROFILE.json"},
		{"apparmor=docker-default", "no AppArmor or SELinux profile"},
		{"no-new-privileges=maybe", "true or false"},
		{"frobnicate", "invalid --security-opt"},
	} {
		if r := e.run("run", "--rm", "--security-opt", tc.opt, "unbox/busybox", "true"); r.code != 125 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("--security-opt %s: %s; want exit 125 saying %q", tc.opt, r, tc.want)
		}
	}
	if ids := strings.Fields(e.ok("ps", "-aq").stdout); len(ids) != 0 {
		t.Errorf("refused runs left containers: %v", ids)
	}
}
