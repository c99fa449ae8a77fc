//go:build linux

package main

// The cgroups package's trace as a person would type it. In v1 one cgroup
// is a directory per hierarchy, so what was done to each is printed as one
// command with a brace list: mkdir /sys/fs/cgroup/{cpu,memory}/x.

import (
	"path/filepath"
	"strings"

	"github.com/unboxlab/unbox/internal/cgroups"
)

// shellLines turns ops into shell commands. Consecutive mkdirs (or rmdirs)
// are grouped by their path inside the hierarchy, in the order first seen;
// consecutive writes of one value to the same file of several hierarchies
// become one tee.
func shellLines(h *cgroups.Host, ops []cgroups.Op) []string {
	var lines []string
	for i := 0; i < len(ops); {
		o := ops[i]
		j := i + 1
		switch o.Kind {
		case cgroups.OpMkdir, cgroups.OpRmdir:
			for j < len(ops) && ops[j].Kind == o.Kind {
				j++
			}
			verb := strings.Fields(o.String())[0]
			for _, paths := range byRelPath(h, ops[i:j]) {
				lines = append(lines, verb+" "+shellPaths(paths))
			}
		case cgroups.OpWrite:
			paths := []string{o.Path}
			for j < len(ops) && ops[j].Kind == o.Kind && ops[j].Value == o.Value && relPath(h, ops[j].Path) == relPath(h, o.Path) {
				paths = append(paths, ops[j].Path)
				j++
			}
			lines = append(lines, writeCmd(o.Value, paths)+annotation(o))
		default:
			lines = append(lines, o.String())
		}
		i = j
	}
	return lines
}

// annotation is a comment for a write whose file not every kernel has.
func annotation(o cgroups.Op) string {
	if filepath.Base(o.Path) == "cgroup.kill" {
		return "    # Linux 5.14+"
	}
	return ""
}

// byRelPath groups the ops' paths by their path inside the hierarchy, in
// the order first seen.
func byRelPath(h *cgroups.Host, ops []cgroups.Op) [][]string {
	var order []string
	groups := map[string][]string{}
	for _, o := range ops {
		r := relPath(h, o.Path)
		if _, ok := groups[r]; !ok {
			order = append(order, r)
		}
		groups[r] = append(groups[r], o.Path)
	}
	out := make([][]string, len(order))
	for i, r := range order {
		out[i] = groups[r]
	}
	return out
}

// relPath is a cgroup path's part inside its hierarchy.
func relPath(h *cgroups.Host, path string) string {
	rel := strings.TrimPrefix(path, h.Root)
	if !h.Mode.V2() {
		// Drop the hierarchy: /memory/unbox-cgroups-42 -> /unbox-cgroups-42.
		if i := strings.Index(rel[1:], "/"); i >= 0 {
			rel = rel[i+1:]
		}
	}
	return rel
}

// shellPaths writes paths that differ in one component as a shell brace
// list, /sys/fs/cgroup/{cpu,memory}/x, or else separated by spaces.
func shellPaths(paths []string) string {
	if len(paths) == 1 {
		return paths[0]
	}
	first := strings.Split(paths[0], "/")
	var differ = -1
	for _, p := range paths[1:] {
		f := strings.Split(p, "/")
		if len(f) != len(first) {
			return strings.Join(paths, " ")
		}
		for i := range f {
			if f[i] != first[i] {
				if differ >= 0 && differ != i {
					return strings.Join(paths, " ")
				}
				differ = i
			}
		}
	}
	if differ < 0 {
		return paths[0]
	}
	var alts []string
	for _, p := range paths {
		c := strings.Split(p, "/")[differ]
		if strings.ContainsAny(c, ",{} ") {
			return strings.Join(paths, " ")
		}
		alts = append(alts, c)
	}
	out := append([]string{}, first...)
	out[differ] = "{" + strings.Join(alts, ",") + "}"
	return strings.Join(out, "/")
}

// writeCmd is `echo value > file`, or with tee for several files.
func writeCmd(value string, files []string) string {
	if len(files) == 1 {
		return (cgroups.Op{Kind: cgroups.OpWrite, Path: files[0], Value: value}).String()
	}
	return "echo " + cgroups.ShellQuote(value) + " | tee " + shellPaths(files)
}
