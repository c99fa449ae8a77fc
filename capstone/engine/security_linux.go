package engine

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// checkSecurityOpts reads --security-opt as Docker's does, into the
// HostConfig's SecurityOpt:
//
//   - seccomp=unconfined: no filter; seccomp=PATH: the profile in that
//     file, read now and kept whole as seccomp=JSON (Docker's client does
//     the same), so that later changes to the file do not change the
//     container; without either, Docker's default profile.
//   - no-new-privileges[=true|false]: the process, and what it runs,
//     gains no privilege through execve (setuid, file capabilities).
//   - apparmor=unconfined and label=disable are accepted and change
//     nothing: no LSM profile is applied here to turn off.
//
// A profile that does not parse is refused here, not at start.
func checkSecurityOpts(c *Container, opts []string) error {
	for _, o := range opts {
		k, v, _ := strings.Cut(o, "=")
		if k == o && strings.Contains(o, ":") { // Docker's old form, seccomp:PATH
			k, v, _ = strings.Cut(o, ":")
		}
		if o = k; v != "" {
			o = k + "=" + v // one form in the record
		}
		switch k {
		case "seccomp":
			switch v {
			case "":
				return fmt.Errorf("invalid --security-opt %q: seccomp=unconfined or seccomp=PROFILE.json", o)
			case "unconfined":
			default:
				b, err := os.ReadFile(v)
				if err != nil {
					return fmt.Errorf("--security-opt seccomp: %w", err)
				}
				if _, err := seccomp.LoadProfile(string(b), &specs.Spec{Process: &specs.Process{}}); err != nil {
					return fmt.Errorf("--security-opt seccomp=%s: %w", v, err)
				}
				o = "seccomp=" + string(b)
			}
		case "no-new-privileges":
			if v != "" {
				if _, err := strconv.ParseBool(v); err != nil {
					return fmt.Errorf("invalid --security-opt %q: no-new-privileges takes true or false", o)
				}
			}
		case "apparmor", "label":
			if o != "apparmor=unconfined" && o != "label=disable" {
				return fmt.Errorf("--security-opt %s: no AppArmor or SELinux profile is applied by unbox (apparmor=unconfined and label=disable are accepted)", o)
			}
		default:
			return fmt.Errorf("invalid --security-opt %q: seccomp=, no-new-privileges, apparmor=unconfined, label=disable", o)
		}
		c.HostConfig.SecurityOpt = append(c.HostConfig.SecurityOpt, o)
	}
	return nil
}

// applySecurity sets the spec's seccomp filter and no_new_privs from the
// container's SecurityOpt, after its capabilities are known: Docker's
// default profile allows some calls only with the capability they need
// (moby/profiles/seccomp makes that choice from the spec). --privileged
// turns the default filter off, as in Docker; a profile given explicitly
// still applies.
func applySecurity(sp *specs.Spec, h HostConfig) error {
	profile, set := "", false
	for _, o := range h.SecurityOpt {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "seccomp":
			profile, set = v, true
		case "no-new-privileges":
			sp.Process.NoNewPrivileges = v == "" || v == "true" || v == "1"
		}
	}
	var err error
	switch {
	case set && profile == "unconfined", !set && h.Privileged:
		sp.Linux.Seccomp = nil
	case set:
		sp.Linux.Seccomp, err = seccomp.LoadProfile(profile, sp)
	default:
		sp.Linux.Seccomp, err = seccomp.GetDefaultProfile(sp)
	}
	if err != nil {
		return fmt.Errorf("seccomp profile: %w", err)
	}
	return nil
}
