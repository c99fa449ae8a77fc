package main

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"
)

// A kernel package does not ship modules.dep: depmod(8) writes it when the
// package is installed. What depmod reads is in the modules themselves: the
// "depends=" entry of each module's .modinfo section, written by modpost,
// names the modules it needs. We follow those, so that the guest loads what
// `modprobe --show-depends` would, in the same order, with no kmod on the
// host and no package installed.

// moduleIndex maps module names to their files under a modules directory,
// and names built-in modules (modules.builtin) too, which need no loading.
type moduleIndex struct {
	files   map[string]string // name → path relative to the modules directory
	builtin map[string]bool
}

// indexModules walks dir (lib/modules/<release>) for *.ko files, compressed
// or not.
func indexModules(dir string, modulesBuiltin string) (*moduleIndex, error) {
	ix := &moduleIndex{files: map[string]string{}, builtin: map[string]bool{}}
	for _, line := range strings.Fields(modulesBuiltin) {
		ix.builtin[moduleName(line)] = true
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(trimModuleCompression(d.Name()), ".ko") {
			rel, _ := filepath.Rel(dir, p)
			ix.files[moduleName(rel)] = filepath.ToSlash(rel)
		}
		return nil
	})
	return ix, err
}

// moduleLoadOrder returns the files to insmod for the wanted modules, every
// module after the modules it depends on, each once. deps reads a module's
// dependencies and soft dependencies by name; a soft dependency that is no
// module's name (an alias) is left out, so kernelModules must name it.
func moduleLoadOrder(ix *moduleIndex, want []string, deps func(file string) (depends, softdeps []string, err error)) ([]string, error) {
	var order []string
	state := map[string]int{} // 0 new, 1 being visited, 2 done
	var visit func(name string, chain []string) error
	visit = func(name string, chain []string) error {
		name = normaliseModuleName(name)
		switch state[name] {
		case 1:
			return fmt.Errorf("module dependency cycle: %s", strings.Join(append(chain, name), " → "))
		case 2:
			return nil
		}
		file, ok := ix.files[name]
		if !ok {
			if ix.builtin[name] {
				state[name] = 2
				return nil
			}
			if len(chain) > 0 {
				return fmt.Errorf("module %s needs %s, which this kernel does not have", chain[len(chain)-1], name)
			}
			return fmt.Errorf("no module %s in this kernel", name)
		}
		state[name] = 1
		needs, soft, err := deps(file)
		if err != nil {
			return fmt.Errorf("module %s: %w", file, err)
		}
		for _, d := range needs {
			if err := visit(d, append(chain, name)); err != nil {
				return err
			}
		}
		for _, d := range soft {
			if _, ok := ix.files[normaliseModuleName(d)]; ok {
				if err := visit(d, append(chain, name)); err != nil {
					return err
				}
			}
		}
		state[name] = 2
		order = append(order, file)
		return nil
	}
	for _, name := range want {
		if err := visit(name, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// modinfoDepends reads the modules a module needs from its .modinfo
// section, whose entries are NUL-terminated key=value strings (what
// modinfo(8) prints): "depends=a,b", and the "pre:" modules of
// "softdep=pre: c post: d" (modprobe.d(5)), which modprobe loads first too.
// A soft dependency may name an alias rather than a module ("crc32c" for
// crc32c_generic); those are returned separately, since only modprobe's
// alias table resolves them.
func modinfoDepends(ko []byte) (depends, softdeps []string, err error) {
	f, err := elf.NewFile(bytes.NewReader(ko))
	if err != nil {
		return nil, nil, err
	}
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, nil, fmt.Errorf("no .modinfo section")
	}
	data, err := sec.Data()
	if err != nil {
		return nil, nil, err
	}
	depends, softdeps = parseModinfo(data)
	return depends, softdeps, nil
}

// parseModinfo reads depends= and softdep= from .modinfo's content.
func parseModinfo(data []byte) (depends, softdeps []string) {
	for _, kv := range strings.Split(string(data), "\x00") {
		if v, ok := strings.CutPrefix(kv, "depends="); ok && v != "" {
			depends = append(depends, strings.Split(v, ",")...)
		}
		if v, ok := strings.CutPrefix(kv, "softdep="); ok {
			pre := false
			for _, w := range strings.Fields(v) {
				switch w {
				case "pre:":
					pre = true
				case "post:":
					pre = false
				default:
					if pre {
						softdeps = append(softdeps, w)
					}
				}
			}
		}
	}
	return depends, softdeps
}

// moduleName is the name of a module file: kernel/net/802/stp.ko.xz → stp.
func moduleName(file string) string {
	base := path.Base(filepath.ToSlash(file))
	if i := strings.Index(base, ".ko"); i >= 0 {
		base = base[:i]
	}
	return normaliseModuleName(base)
}

// normaliseModuleName: '-' and '_' are the same in module names.
func normaliseModuleName(name string) string {
	return strings.ReplaceAll(name, "-", "_")
}
