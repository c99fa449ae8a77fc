package kit

import (
	"os"
	"strconv"
	"strings"

	"github.com/unboxlab/unbox/internal/procfs"
)

// UserEnv looks up a preference the user set in their environment, also when
// the program was started through sudo.
//
// sudo resets the environment (sudoers(5), env_reset), so
// `NO_COLOR=1 go run -exec sudo ./lessons/01-namespaces` and
// `UNBOX_REQUIRE_PRIVILEGED=1 go test -exec sudo ./...` would otherwise lose
// the variable without a word, and a test run meant to fail on every skip
// would quietly skip. When the variable is not set here and our parent is
// sudo, we read it from sudo's own environment, which is still the user's.
// Only use it for preferences like these, never for anything that grants
// privilege.
func UserEnv(key string) (string, bool) {
	if v, ok := os.LookupEnv(key); ok {
		return v, true
	}
	if environ, ok := sudoEnviron(); ok {
		return procfs.Lookup(environ, key)
	}
	return "", false
}

// userLocale looks up a locale variable (LANG, LC_ALL, LANGUAGE, ...) as
// the user set it. Under sudo the user's own value comes first: sudo resets
// the environment, and PAM (pam_env, on Debian and Ubuntu) then sets LANG
// to the system's default locale, which is not the language the person at
// the terminal asked for.
func userLocale(key string) (string, bool) {
	if environ, ok := sudoEnviron(); ok {
		if v, ok := procfs.Lookup(environ, key); ok {
			return v, true
		}
	}
	return os.LookupEnv(key)
}

// sudoEnviron is the environment of the sudo that started this process,
// which is still the user's, or false when we were not started by sudo.
func sudoEnviron() ([]string, bool) {
	if _, sudo := os.LookupEnv("SUDO_UID"); !sudo {
		return nil, false
	}
	// `sudo` may run the command directly or, with use_pty (Debian's
	// default), through a monitor process that is a fork of sudo: either way
	// one of the nearest ancestors is sudo.
	pid := os.Getppid()
	for range 3 {
		if pid <= 1 {
			break
		}
		comm, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
		if strings.TrimSpace(string(comm)) == "sudo" {
			environ, err := procfs.ReadEnviron(strconv.Itoa(pid))
			if err != nil {
				return nil, false
			}
			return environ, true
		}
		st, err := procfs.ReadStat(strconv.Itoa(pid))
		if err != nil {
			break
		}
		pid = st.PPID
	}
	return nil, false
}
