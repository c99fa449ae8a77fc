package rootfs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// rootfsVersion changes whenever the layout below changes, so old caches are
// not reused.
const rootfsVersion = "1"

// hostPrograms are copied from the host for the "host" source; "sh" must be
// found, the rest are taken where present.
var hostPrograms = []string{
	"sh", "ls", "cat", "echo", "mkdir", "rmdir", "rm", "cp", "mv", "ln", "touch",
	"chmod", "chown", "ps", "mount", "umount", "hostname", "id", "whoami", "sleep",
	"uname", "env", "grep", "sed", "head", "tail", "wc", "df", "du", "stat",
	"readlink", "true", "false", "pwd", "find", "kill", "nproc", "free", "date",
	"cut", "sort", "tr", "dd", "mknod", "test", "expr", "printf",
}

// plan is the root filesystem as data: what goes where. Building it is
// one loop; the cache key is a hash of it.
type plan struct {
	source  Source
	entries []entry
}

type entry struct {
	path string // relative to the root, e.g. "usr/bin/ls"
	mode fs.FileMode
	// Exactly one of these, or none for a directory:
	from    string // host file to copy
	link    string // symlink target
	content string // file content
}

func planFor(ctx context.Context, source Source) (*plan, error) {
	switch source {
	case Auto:
		if bb, err := FindStaticBusybox(); err == nil {
			return planBusybox(ctx, bb)
		}
		return planHost()
	case Busybox:
		bb, err := FindStaticBusybox()
		if err != nil {
			return nil, fmt.Errorf("root filesystem from busybox: %w (sudo apt-get install busybox-static)", err)
		}
		return planBusybox(ctx, bb)
	case Host:
		return planHost()
	}
	return nil, fmt.Errorf("unknown root filesystem source %q (want busybox or host)", source)
}

// baseEntries are the directories and files every root filesystem has.
func baseEntries() []entry {
	var e []entry
	for _, d := range []string{"dev", "etc", "home", "proc", "run", "sys", "var", "usr"} {
		e = append(e, entry{path: d, mode: fs.ModeDir | 0o755})
	}
	e = append(e,
		entry{path: "root", mode: fs.ModeDir | 0o700},
		entry{path: "tmp", mode: fs.ModeDir | fs.ModeSticky | 0o777},
		entry{path: "etc/passwd", mode: 0o644, content: "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"},
		entry{path: "etc/group", mode: 0o644, content: "root:x:0:\nnogroup:x:65534:\n"},
	)
	return e
}

// FindStaticBusybox returns the host's statically linked busybox, which
// [Build] prefers, or says why there is none.
func FindStaticBusybox() (string, error) {
	var dynamic []string
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox", "/sbin/busybox", "/usr/sbin/busybox"} {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		static, err := isStaticELF(p)
		if err == nil && static {
			return p, nil
		}
		dynamic = append(dynamic, p)
	}
	if len(dynamic) > 0 {
		return "", fmt.Errorf("%s is dynamically linked", strings.Join(dynamic, ", "))
	}
	return "", errors.New("no busybox on the host")
}

func planBusybox(ctx context.Context, busybox string) (*plan, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list: %w", busybox, err)
	}
	p := &plan{source: Busybox, entries: baseEntries()}
	p.entries = append(p.entries,
		entry{path: "bin", mode: fs.ModeDir | 0o755},
		entry{path: "sbin", mode: fs.ModeSymlink | 0o777, link: "bin"},
		entry{path: "usr/bin", mode: fs.ModeSymlink | 0o777, link: "../bin"},
		entry{path: "usr/sbin", mode: fs.ModeSymlink | 0o777, link: "../bin"},
		entry{path: "bin/busybox", mode: 0o755, from: busybox},
	)
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		p.entries = append(p.entries, entry{path: "bin/" + applet, mode: fs.ModeSymlink | 0o777, link: "busybox"})
	}
	return p, nil
}

func planHost() (*plan, error) {
	p := &plan{source: Host, entries: baseEntries()}
	// Merged /usr, as current Debian and Ubuntu have it: /bin is usr/bin.
	for _, d := range []string{"bin", "sbin", "lib", "lib64"} {
		p.entries = append(p.entries,
			entry{path: "usr/" + d, mode: fs.ModeDir | 0o755},
			entry{path: d, mode: fs.ModeSymlink | 0o777, link: "usr/" + d})
	}
	searchDirs := librarySearchDirs("/etc/ld.so.conf")
	placed := map[string]bool{}
	for _, name := range hostPrograms {
		src, err := hostProgram(name)
		if err != nil {
			if name == "sh" {
				return nil, fmt.Errorf("root filesystem from the host: %w", err)
			}
			continue
		}
		libs, err := elfDeps(src, searchDirs)
		if err != nil {
			if name == "sh" {
				return nil, fmt.Errorf("root filesystem from the host: %w", err)
			}
			continue // not an ELF program (a script), or a library we cannot find
		}
		p.entries = append(p.entries, entry{path: "usr/bin/" + name, mode: 0o755, from: src})
		for _, lib := range libs {
			dst := usrPath(lib)
			if placed[dst] {
				continue
			}
			placed[dst] = true
			p.entries = append(p.entries, entry{path: dst, mode: 0o755, from: lib})
		}
	}
	return p, nil
}

// hostProgram finds a program in the system directories (not $PATH, which
// under sudo or in a user's shell may hold anything) and resolves symlinks,
// so "sh" is the real shell's file.
func hostProgram(name string) (string, error) {
	for _, d := range []string{"/usr/bin", "/bin", "/usr/sbin", "/sbin"} {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return filepath.EvalSymlinks(p)
		}
	}
	return "", fmt.Errorf("no %s in /usr/bin, /bin, /usr/sbin or /sbin", name)
}

// usrPath maps a host path to its place in the merged-/usr layout, relative
// to the root: /lib/x86_64-linux-gnu/libc.so.6 → usr/lib/x86_64-linux-gnu/libc.so.6.
func usrPath(hostPath string) string {
	rel := strings.TrimPrefix(filepath.Clean(hostPath), "/")
	for _, d := range []string{"bin/", "sbin/", "lib/", "lib64/"} {
		if strings.HasPrefix(rel, d) {
			return "usr/" + rel
		}
	}
	return rel
}

// key is a hash of the plan and of every host file it copies (path, size,
// modification time): an upgraded busybox or libc makes a new cache entry.
func (p *plan) key() (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "unbox-rootfs %s %s\n", rootfsVersion, p.source)
	for _, e := range p.entries {
		fmt.Fprintf(h, "%s %o %q %q %q", e.path, e.mode, e.from, e.link, e.content)
		if e.from != "" {
			fi, err := os.Stat(e.from)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, " %d %d", fi.Size(), fi.ModTime().UnixNano())
		}
		fmt.Fprintln(h)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// build makes the root filesystem under cacheDir unless it is there already,
// and returns its path. It builds in a temporary directory and renames, so a
// half-built tree is never used, and two builds at once both succeed.
func (p *plan) build(cacheDir string) (string, error) {
	key, err := p.key()
	if err != nil {
		return "", fmt.Errorf("root filesystem plan: %w", err)
	}
	final := filepath.Join(cacheDir, string(p.source)+"-"+key)
	if _, err := os.Stat(final); err == nil {
		return final, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("create root filesystem cache: %w", err)
	}
	tmp, err := os.MkdirTemp(cacheDir, ".building-")
	if err != nil {
		return "", fmt.Errorf("create root filesystem cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	// Parents before children: directories and symlinks first in plan
	// order, then files, so "usr/bin" exists before "usr/bin/ls".
	entries := slices.Clone(p.entries)
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].from == "" && entries[j].from != "" })
	for _, e := range entries {
		if err := e.apply(tmp); err != nil {
			return "", err
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		if _, statErr := os.Stat(final); statErr == nil {
			return final, nil // someone else finished first
		}
		return "", fmt.Errorf("finish root filesystem cache: %w", err)
	}
	return final, nil
}

func (e entry) apply(root string) error {
	dst := filepath.Join(root, e.path)
	var err error
	switch {
	case e.mode&fs.ModeSymlink != 0:
		err = os.Symlink(e.link, dst)
	case e.mode.IsDir():
		if err = os.MkdirAll(dst, 0o755); err == nil {
			err = os.Chmod(dst, e.mode&(fs.ModePerm|fs.ModeSticky))
		}
	case e.from != "":
		err = copyFile(e.from, dst, e.mode.Perm())
	default:
		err = os.WriteFile(dst, []byte(e.content), e.mode.Perm())
	}
	if err != nil {
		return fmt.Errorf("root filesystem: %s: %w", e.path, err)
	}
	return nil
}
