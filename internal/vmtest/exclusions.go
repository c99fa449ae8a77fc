package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// exclusion is a privileged test that cannot run in the lane's bare VM by
// its nature, with the reason. The list is short and reviewed: each entry is
// passed to the test binary as -test.skip and printed in every report, so
// nothing is left out silently, and an entry whose test no longer exists
// fails the lane so that the list cannot rot.
type exclusion struct {
	Pkg    string // relative to the module root
	Test   string
	Reason string
}

var exclusions = []exclusion{
	{
		Pkg:  "lessons/01-namespaces",
		Test: "TestPrivNoColorThroughSudo",
		Reason: "runs sudo, which needs a distribution's userland (sudoers, PAM, shared libraries); " +
			"the VM has only busybox. It runs in .ci/run's host tests and in the Vagrant lab",
	},
	{
		Pkg:    "capstone/cmd/unbox-runtime",
		Test:   "TestPrivPeerDiffRuncSees",
		Reason: "runs the same bundles under runc, the peer it compares with; the VM has only busybox. It runs in .ci/run's host tests",
	},
	{
		Pkg:    "capstone/cmd/unbox-runtime",
		Test:   "TestPrivPeerDiffRuncState",
		Reason: "runs runc, the peer whose state output it compares with; the VM has only busybox. It runs in .ci/run's host tests",
	},
	{
		Pkg:    "capstone/cmd/unbox-runtime",
		Test:   "TestPrivPeerPodman",
		Reason: "drives unbox-runtime from podman (with conmon); the VM has only busybox. It runs in .ci/run's host tests",
	},
	{
		Pkg:    "capstone/cmd/unbox-runtime",
		Test:   "TestPrivPeerCtr",
		Reason: "drives unbox-runtime from containerd's ctr and runc shim; the VM has only busybox. It runs in .ci/run's host tests",
	},
	{
		Pkg:    "capstone/cmd/unbox-runtime",
		Test:   "TestPrivPeerDiffRuncDevices",
		Reason: "runs the same device-cgroup bundles under runc, the peer it compares with; the VM has only busybox. It runs in .ci/run's host tests",
	},
	{
		Pkg:  "capstone/k8s",
		Test: "TestPrivCRI",
		Reason: "runs containerd's CRI plugin with runc, CNI plugins, crictl and critest, and builds unbox-runtime with the go command; " +
			"the VM has only busybox. It runs in .ci/run's host tests",
	},
	{
		Pkg:    "capstone/k8s",
		Test:   "TestPrivCRITools",
		Reason: "builds crictl and critest with the go command through the module proxy; the VM has neither. It runs in .ci/run's host tests",
	},
}

// applyExclusions attaches the exclusions to their packages and reports the
// ones that name a test the package no longer has.
func applyExclusions(pkgs []*testPackage, list []exclusion) error {
	var stale []string
	for _, e := range list {
		for _, p := range pkgs {
			if p.Rel != e.Pkg || p.BuildErr != nil {
				continue
			}
			if !slices.Contains(p.Tests, e.Test) {
				stale = append(stale, e.Pkg+" "+e.Test)
				continue
			}
			p.Excluded = append(p.Excluded, e)
		}
	}
	if len(stale) > 0 {
		return fmt.Errorf("exclusions.go names tests that do not exist (remove them): %s", strings.Join(stale, ", "))
	}
	return nil
}

// skipPattern is the -test.skip value for a package's exclusions, or "".
func skipPattern(ex []exclusion) string {
	if len(ex) == 0 {
		return ""
	}
	names := make([]string, len(ex))
	for i, e := range ex {
		names[i] = regexp.QuoteMeta(e.Test)
	}
	return "^(" + strings.Join(names, "|") + ")$"
}
