package rootfs

import (
	"bufio"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// What ldd(1) would tell us, read from the ELF files themselves instead of
// running the dynamic loader: the program interpreter (PT_INTERP), and the
// DT_NEEDED libraries found along DT_RUNPATH/DT_RPATH, /etc/ld.so.conf and
// the default directories, recursively (ld.so(8)).

// elfDeps returns the host paths of the interpreter and every shared library
// that the program at path loads, without duplicates, in discovery order.
// A static program has none.
func elfDeps(path string, searchDirs []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	queue := []string{path}
	for len(queue) > 0 {
		file := queue[0]
		queue = queue[1:]
		f, err := elf.Open(file)
		if err != nil {
			return nil, fmt.Errorf("read ELF %s: %w", file, err)
		}
		interp, needed, runpath, err := elfDynamic(f)
		class, machine := f.Class, f.Machine
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read ELF %s: %w", file, err)
		}
		add := func(p string) {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
				queue = append(queue, p)
			}
		}
		if interp != "" {
			add(interp)
		}
		dirs := expandOrigin(runpath, filepath.Dir(file))
		dirs = append(dirs, searchDirs...)
		for _, lib := range needed {
			p, err := findLibrary(lib, dirs, class, machine)
			if err != nil {
				return nil, fmt.Errorf("%s needs %s: %w", path, lib, err)
			}
			add(p)
		}
	}
	return out, nil
}

// elfDynamic reads PT_INTERP, DT_NEEDED and DT_RUNPATH (or the older
// DT_RPATH, which only applies when there is no DT_RUNPATH).
func elfDynamic(f *elf.File) (interp string, needed, runpath []string, err error) {
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				return "", nil, nil, err
			}
			interp = strings.TrimRight(string(b), "\x00")
		}
	}
	if f.Section(".dynamic") == nil && dynamicProg(f) == nil {
		return interp, nil, nil, nil // static
	}
	needed, err = f.ImportedLibraries()
	if err != nil {
		return "", nil, nil, err
	}
	rp, _ := f.DynString(elf.DT_RUNPATH)
	if len(rp) == 0 {
		rp, _ = f.DynString(elf.DT_RPATH)
	}
	for _, s := range rp {
		runpath = append(runpath, filepath.SplitList(s)...)
	}
	return interp, needed, runpath, nil
}

func dynamicProg(f *elf.File) *elf.Prog {
	for _, p := range f.Progs {
		if p.Type == elf.PT_DYNAMIC {
			return p
		}
	}
	return nil
}

// isStaticELF reports whether the ELF file at path needs no interpreter and
// no shared library.
func isStaticELF(path string) (bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	interp, needed, _, err := elfDynamic(f)
	if err != nil {
		return false, err
	}
	return interp == "" && len(needed) == 0, nil
}

func expandOrigin(dirs []string, origin string) []string {
	out := make([]string, 0, len(dirs))
	for _, d := range dirs {
		d = strings.ReplaceAll(d, "${ORIGIN}", origin)
		out = append(out, strings.ReplaceAll(d, "$ORIGIN", origin))
	}
	return out
}

// findLibrary looks for lib in dirs, skipping files built for another
// architecture (a 32-bit libc in /usr/lib32, say), as the loader does.
func findLibrary(lib string, dirs []string, class elf.Class, machine elf.Machine) (string, error) {
	if strings.Contains(lib, "/") {
		return lib, nil
	}
	for _, d := range dirs {
		p := filepath.Join(d, lib)
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		ok := f.Class == class && f.Machine == machine
		f.Close()
		if ok {
			return p, nil
		}
	}
	return "", errors.New("not found in " + strings.Join(dirs, ":"))
}

// librarySearchDirs returns the directories the loader searches after a
// program's own run paths: those in ld.so.conf (with its includes), then the
// defaults.
func librarySearchDirs(ldSoConf string) []string {
	dirs := parseLdSoConf(ldSoConf, map[string]bool{})
	return append(dirs, "/lib64", "/usr/lib64", "/lib", "/usr/lib")
}

func parseLdSoConf(path string, visited map[string]bool) []string {
	if visited[path] {
		return nil
	}
	visited[path] = true
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var dirs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "hwcap"):
		case strings.HasPrefix(line, "include"):
			pattern := strings.TrimSpace(strings.TrimPrefix(line, "include"))
			if !filepath.IsAbs(pattern) {
				pattern = filepath.Join(filepath.Dir(path), pattern)
			}
			matches, _ := filepath.Glob(pattern)
			for _, m := range matches {
				dirs = append(dirs, parseLdSoConf(m, visited)...)
			}
		default:
			dirs = append(dirs, strings.Fields(line)...)
		}
	}
	return dirs
}
