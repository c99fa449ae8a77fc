package engine

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// resolveUser turns -u (NAME|UID[:GROUP|GID]) into numbers by reading the
// container's own /etc/passwd and /etc/group, as Docker does (moby's
// user package). The files are opened inside the root (openat2(2)
// RESOLVE_IN_ROOT): an image whose /etc/passwd is a link to the host's
// reads its own. Nothing goes through the C library: its NSS modules would
// be the host's, and the answer the host's users.
func resolveUser(root, spec string) (specs.User, error) {
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	u := specs.User{}
	passwd := readColonFile(root, "etc/passwd")
	groups := readColonFile(root, "etc/group")
	name := ""
	switch {
	case userPart == "":
	case isNumber(userPart):
		n, _ := strconv.ParseUint(userPart, 10, 32)
		u.UID = uint32(n)
		for _, f := range passwd {
			if len(f) >= 4 && f[2] == userPart {
				name = f[0]
				g, _ := strconv.ParseUint(f[3], 10, 32)
				u.GID = uint32(g)
				break
			}
		}
	default:
		found := false
		for _, f := range passwd {
			if len(f) >= 4 && f[0] == userPart {
				uid, err1 := strconv.ParseUint(f[2], 10, 32)
				gid, err2 := strconv.ParseUint(f[3], 10, 32)
				if err1 != nil || err2 != nil {
					continue
				}
				u.UID, u.GID, found, name = uint32(uid), uint32(gid), true, userPart
				break
			}
		}
		if !found {
			return u, &ExitCodeError{Code: 125, Err: fmt.Errorf("unable to find user %s: no matching entries in passwd file", userPart)}
		}
	}
	if hasGroup {
		switch {
		case isNumber(groupPart):
			g, _ := strconv.ParseUint(groupPart, 10, 32)
			u.GID = uint32(g)
		default:
			found := false
			for _, f := range groups {
				if len(f) >= 3 && f[0] == groupPart {
					g, err := strconv.ParseUint(f[2], 10, 32)
					if err == nil {
						u.GID, found = uint32(g), true
						break
					}
				}
			}
			if !found {
				return u, &ExitCodeError{Code: 125, Err: fmt.Errorf("unable to find group %s: no matching entries in group file", groupPart)}
			}
		}
	}
	// Supplementary groups: those of /etc/group that list the user.
	if name != "" && !hasGroup {
		for _, f := range groups {
			if len(f) < 4 {
				continue
			}
			for _, m := range strings.Split(f[3], ",") {
				if m == name {
					if g, err := strconv.ParseUint(f[2], 10, 32); err == nil && uint32(g) != u.GID {
						u.AdditionalGids = append(u.AdditionalGids, uint32(g))
					}
				}
			}
		}
	}
	return u, nil
}

// ResolveUser is USER or --chown's NAME|UID[:GROUP|GID] as ids, looked
// up in the passwd and group files of the root file system at root (the
// image's, not the host's).
func ResolveUser(root, spec string) (uid, gid uint32, err error) {
	u, err := resolveUser(root, spec)
	return u.UID, u.GID, err
}

func isNumber(s string) bool {
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}

// readColonFile reads a passwd(5) or group(5) file inside root, as lists
// of fields; a missing or unreadable file is empty (an image may have
// none). At most 1 MiB is read: the file is the image's.
func readColonFile(root, name string) [][]string {
	h, err := pathrs.OpenInRoot(root, name)
	if err != nil {
		return nil
	}
	defer h.Close()
	f, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_CLOEXEC)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, strings.Split(line, ":"))
	}
	return out
}

// mkdirInRoot makes dir inside root if it is missing, as Docker makes a
// working directory the image does not have; every component is resolved
// inside root.
func mkdirInRoot(root, dir string) error {
	err := pathrs.MkdirAll(root, dir, 0o755)
	if err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("make the working directory %s: %w", dir, err)
	}
	return nil
}
