package main

import (
	"crypto/rand"
	"debug/elf"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// initScript is the guest's /init; see init.sh.
//
//go:embed init.sh
var initScript []byte

// buildInitramfs writes the guest's whole world into one cpio archive:
//
//	/init                     init.sh
//	/bin/busybox, /bin/sh     static busybox (init.sh links the other applets)
//	/lib/modules/<release>/…  the kernel modules, /etc/vmtest/modules their order
//	/unbox/bin/<pkg>.test     the static test binaries
//	/unbox/src/<pkg>/         each package's files and testdata/, the binary's
//	                          working directory, as under go test
//	/etc/vmtest/plan          package, binary, modes, -test.skip: one line each
//
// It is not compressed: the guest would spend longer decompressing it under
// emulation than QEMU spends loading it.
func buildInitramfs(dst, busybox string, k *kernel, pkgs []*testPackage) error {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	w := newCPIOWriter(f)
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "run", "var", "home"} {
		w.Dir(d, 0o755)
	}
	w.Dir("root", 0o700)
	w.Dir("tmp", 0o777|fs.ModeSticky)
	w.Node("dev/console", cpioCharDev|0o600, 5, 1) // init's stdin, stdout and stderr
	w.Bytes("init", 0o755, initScript)
	w.File("bin/busybox", 0o755, busybox)
	w.Symlink("bin/sh", "busybox")
	w.Bytes("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"))
	w.Bytes("etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n"))
	w.Bytes("etc/hostname", 0o644, []byte("vmtest\n"))

	var modules strings.Builder
	for _, m := range k.Modules {
		w.File(m, 0o644, filepath.Join(k.ModDir, m))
		modules.WriteString(m + "\n")
	}
	w.Bytes("etc/vmtest/modules", 0o644, []byte(modules.String()))

	var plan strings.Builder
	for _, p := range pkgs {
		if p.Binary == "" {
			continue
		}
		bin := filepath.Base(p.Binary)
		w.File("unbox/bin/"+bin, 0o755, p.Binary)
		if err := addPackageFiles(w, p.Dir, "unbox/src/"+p.Rel); err != nil {
			return err
		}
		fmt.Fprintf(&plan, "%s\t%s\t%s\t%s\n", p.Rel, bin, planModes(p), skipPattern(p.Excluded))
	}
	w.Bytes("etc/vmtest/plan", 0o644, []byte(plan.String()))
	if err := w.Close(); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return f.Close()
}

// addPackageFiles copies what a test may read relative to its package
// directory: the directory's own files (README.md, the sources a test may
// check the README against) and everything under testdata/. Other
// subdirectories are other packages.
func addPackageFiles(w *cpioWriter, dir, into string) error {
	w.Dir(into, 0o755)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		src := filepath.Join(dir, e.Name())
		switch {
		case e.Type().IsRegular():
			w.File(path.Join(into, e.Name()), 0o644, src)
		case e.IsDir() && e.Name() == "testdata":
			err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				rel, _ := filepath.Rel(dir, p)
				dst := path.Join(into, filepath.ToSlash(rel))
				info, err := d.Info()
				if err != nil {
					return err
				}
				switch {
				case d.IsDir():
					w.Dir(dst, info.Mode().Perm())
				case info.Mode()&fs.ModeSymlink != 0:
					target, err := os.Readlink(p)
					if err != nil {
						return err
					}
					w.Symlink(dst, target)
				case info.Mode().IsRegular():
					w.File(dst, info.Mode().Perm(), p)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// findStaticBusybox looks where the kit's root filesystem fixture does
// (internal/kit: findStaticBusybox), so the guest finds it at /bin/busybox.
func findStaticBusybox() (string, error) {
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox", "/sbin/busybox", "/usr/sbin/busybox"} {
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		static := true
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				static = false
			}
		}
		f.Close()
		if static {
			return p, nil
		}
	}
	return "", errors.New("no static busybox on the host (sudo apt-get install busybox-static)")
}

func randomToken() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
