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
		Pkg:    "capstone/cmd/unbox",
		Test:   "TestPrivPeerBuildPodman",
		Reason: "builds the same Dockerfile with podman build (and runc) to compare the images, then loads our build into podman and runs it there; the VM has only busybox. It runs in .ci/run's host tests",
	},
	{
		Pkg:    "capstone/cmd/unbox-runtime",
		Test:   "TestPrivPeerCtr",
		Reason: "drives unbox-runtime from containerd's ctr and runc shim; the VM has only busybox. It runs in .ci/run's host tests",
	},
	{
		Pkg:    "capstone/cmd/unbox",
		Test:   "TestPrivRegistryCommands",
		Reason: "pushes to and pulls from a registry it starts (Debian's docker-registry); the VM has only busybox. It runs in .ci/run's host tests",
	},
	{
		Pkg:    "capstone/cmd/unbox",
		Test:   "TestPrivRunPullsMissing",
		Reason: "runs and creates containers of an image only in a registry it starts (Debian's docker-registry), which they pull; the VM has only busybox. It runs in .ci/run's host tests",
	},
	{
		Pkg:    "capstone/cmd/unbox",
		Test:   "TestPrivComposePulls",
		Reason: "pulls a service's image from a registry it starts (Debian's docker-registry) with compose pull and up; the VM has only busybox. It runs in .ci/run's host tests",
	},
	{
		Pkg:    "capstone/cmd/unbox",
		Test:   "TestPrivBuildPullsBase",
		Reason: "builds on a FROM image only in a registry it starts (Debian's docker-registry), which build pulls, and pushes a new one there for --pull; the VM has only busybox. It runs in .ci/run's host tests",
	},
	{
		Pkg:    "capstone/cmd/unbox",
		Test:   "TestPrivComposeBuildPulls",
		Reason: "compose run --pull, up --build and build --pull pull from a registry it starts (Debian's docker-registry); the VM has only busybox. It runs in .ci/run's host tests",
	},
	{
		Pkg:    "capstone/cmd/unbox",
		Test:   "TestPrivLoginLogoutCommands",
		Reason: "logs in to an htpasswd registry it starts (Debian's docker-registry); the VM has only busybox. It runs in .ci/run's host tests",
	},
	{
		Pkg:    "capstone/image",
		Test:   "TestPrivPushPullTagDigest",
		Reason: "pushes to and pulls from a registry it starts (Debian's docker-registry); the VM has only busybox. It runs in .ci/run's host tests",
	},
	{
		Pkg:    "capstone/image",
		Test:   "TestPrivMultiPlatformIndex",
		Reason: "pulls a multi-platform index from a registry it starts (Debian's docker-registry); the VM has only busybox. It runs in .ci/run's host tests",
	},
	{
		Pkg:    "capstone/image",
		Test:   "TestPrivPullFromMirrorsInOrder",
		Reason: "pulls through mirrors that are registries it starts (Debian's docker-registry); the VM has only busybox. It runs in .ci/run's host tests",
	},
	{
		Pkg:    "capstone/image",
		Test:   "TestPrivLoginHtpasswd",
		Reason: "logs in to an htpasswd registry it starts (Debian's docker-registry) and reads the credentials with skopeo; the VM has only busybox. It runs in .ci/run's host tests",
	},
	{
		Pkg:    "capstone/image",
		Test:   "TestPrivPullVerifiesDigests",
		Reason: "tampers with a blob in a registry it starts (Debian's docker-registry); the VM has only busybox. It runs in .ci/run's host tests",
	},
	{
		Pkg:    "capstone/image",
		Test:   "TestPrivInterruptedPullLeavesNoImage",
		Reason: "interrupts a pull from a registry it starts (Debian's docker-registry); the VM has only busybox. It runs in .ci/run's host tests",
	},
	{
		Pkg:    "capstone/image",
		Test:   "TestPrivPullRefusesHostileLayers",
		Reason: "pulls hostile layers from a registry it starts (Debian's docker-registry); the VM has only busybox. internal/layer's extraction tests take the same cases in the VM; this end-to-end one runs in .ci/run's host tests",
	},
	{
		Pkg:    "capstone/image",
		Test:   "TestPrivSaveLoadsIntoPodman",
		Reason: "loads our saves into podman and runs them there (with runc); the VM has only busybox. It runs in .ci/run's host tests",
	},
	{
		Pkg:    "capstone/image",
		Test:   "TestPrivLoadSkopeoDockerArchive",
		Reason: "loads a docker-archive skopeo writes; the VM has only busybox. It runs in .ci/run's host tests",
	},
	{
		Pkg:    "capstone/image",
		Test:   "TestPrivLoadUmociLayout",
		Reason: "loads an OCI layout umoci builds; the VM has only busybox. It runs in .ci/run's host tests",
	},
	{
		Pkg:  "capstone/cmd/unbox",
		Test: "TestPrivPeerDiffRunc",
		Reason: "runs the same scenario under runc and a freshly built unbox-runtime (go build); the VM has only busybox. " +
			"It runs in .ci/run's host tests",
	},
	{
		Pkg:    "capstone/cmd/unbox",
		Test:   "TestPrivQuickStart",
		Reason: "types the quick start, go run -exec sudo; the VM has neither Go nor sudo. It runs in .ci/run's host tests",
	},
	{
		Pkg:  "capstone/cmd/unbox",
		Test: "TestPrivConcurrentRuns",
		Reason: "20 runs at once on one emulated CPU take minutes of the lane's budget, and what it proves, the engine's locking, " +
			"does not depend on the cgroup layout. It runs in .ci/run's host tests",
	},
	{
		Pkg:  "capstone/cmd/unbox",
		Test: "TestPrivAttach",
		Reason: "attach is the CLI and the monitor's attach socket, which do not depend on the cgroup layout, and it takes " +
			"half a minute of the lane's budget on one emulated CPU. It runs in .ci/run's host tests",
	},
	{
		Pkg:  "capstone/cmd/unbox",
		Test: "TestPrivDetachKeys",
		Reason: "the detach keys are the CLI's reading of its terminal, which does not depend on the cgroup layout. " +
			"It runs in .ci/run's host tests",
	},
	{
		Pkg:  "capstone/cmd/unbox",
		Test: "TestPrivDiff",
		Reason: "diff reads the container's upper dir, which does not depend on the cgroup layout; internal/overlay's " +
			"TestPrivChangesOfTheKernelsUpper takes the same reading in every mode. It runs in .ci/run's host tests",
	},
	{
		Pkg:  "capstone/cmd/unbox",
		Test: "TestPrivLogsSinceUntil",
		Reason: "--since and --until read the json-file log, which does not depend on the cgroup layout. " +
			"It runs in .ci/run's host tests",
	},
	{
		Pkg:  "capstone/cmd/unbox",
		Test: "TestPrivContainerCommands",
		Reason: "the management commands are the CLI's other names for commands the lane runs already. " +
			"It runs in .ci/run's host tests",
	},
	{
		Pkg:  "capstone/cmd/unbox",
		Test: "TestPrivNetworkTwenty",
		Reason: "20 containers started at once on one emulated CPU take minutes of the lane's budget, and what it proves, " +
			"distinct leases and names under concurrency, does not depend on the cgroup layout. It runs in .ci/run's host tests",
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

// modeLimit runs a package's privileged tests in some boot modes only, with
// the reason: the lane's time is the price of every mode, and a package
// whose cgroup handling is another package's (tested in every mode) need
// not pay it three times. Printed in every report, like the exclusions.
type modeLimit struct {
	Pkg    string
	Modes  []string
	Reason string
}

// engineModes is why the engine's packages boot once: the engine starts
// containers through unbox-runtime, whose tests run in every mode.
const engineModes = "the engine starts its containers through unbox-runtime, whose tests (cgroups included) run in every mode; " +
	"its own tests run here under pure cgroup v2 and on the host lane under the host's cgroups, which keeps CI within its budget"

var modeLimits = []modeLimit{
	{Pkg: "capstone/cmd/unbox", Modes: []string{"bare"}, Reason: engineModes},
	{Pkg: "capstone/image", Modes: []string{"bare"}, Reason: engineModes},
}

// applyModeLimits attaches the limits to their packages; a limit that names
// no package of the run (a package that was renamed) is an error, as a stale
// exclusion is.
func applyModeLimits(pkgs []*testPackage, list []modeLimit, all bool) error {
	var stale []string
	for _, l := range list {
		found := false
		for _, p := range pkgs {
			if p.Rel == l.Pkg {
				p.Modes, found = l.Modes, true
			}
		}
		if !found && all {
			stale = append(stale, l.Pkg)
		}
	}
	if len(stale) > 0 {
		return fmt.Errorf("exclusions.go limits the modes of packages that do not exist (remove them): %s", strings.Join(stale, ", "))
	}
	return nil
}

// modeReason is the reason the package's modes are limited.
func modeReason(pkg string) string {
	for _, l := range modeLimits {
		if l.Pkg == pkg {
			return l.Reason
		}
	}
	return ""
}

// runsIn says whether p's tests run in the boot mode.
func (p *testPackage) runsIn(mode string) bool {
	return len(p.Modes) == 0 || slices.Contains(p.Modes, mode)
}

// planModes is the plan's modes field: "all", or the modes comma-separated.
func planModes(p *testPackage) string {
	if len(p.Modes) == 0 {
		return "all"
	}
	return strings.Join(p.Modes, ",")
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
