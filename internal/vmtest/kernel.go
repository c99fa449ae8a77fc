package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The lane boots Debian's own kernel, as a learner's distribution would,
// with its modules: no kernel of our own to configure, and, pinned to one
// build (kernelpin.go), the same kernel on every contributor's machine.
//
// The package is not installed (that would run initramfs and bootloader
// hooks on the host): `apt-get download` fetches the .deb (kept, checked
// against its pin), `dpkg-deb -x` unpacks it into a scratch directory, and
// we keep two things in the cache:
//
//   - vmlinux, the uncompressed kernel. A bzImage is a small x86 boot stub
//     plus the compressed kernel, which the guest would decompress on every
//     boot; under software emulation (TCG) that is most of the boot time. We
//     decompress it once, as the kernel's scripts/extract-vmlinux does, and
//     QEMU boots the ELF through its PVH entry point (the
//     XEN_ELFNOTE_PHYS32_ENTRY note; CONFIG_PVH=y in Debian's kernels).
//   - the modules the tests need (see kernelModules), with what they depend
//     on, uncompressed, in load order.

// kernelModules are loaded in the guest before the tests, with their
// dependencies (modules.go), in this order. In Debian's kernel these are
// modules, not built in, and the guest has no modprobe to load one on
// demand: a test that needs a module the list lacks fails in the VM alone.
// So a test that needs another module adds it here, with the lesson that
// needs it. TestPrivKernelHasWhatTheLessonsNeed (kernel_linux_test.go) runs
// the packages' own probes (network.Requirements, overlay.Probe) first in
// every boot, so that a package whose probe asks for the new feature fails
// there, by name, when the module is missing.
var kernelModules = []string{
	"overlay", // lessons 04 onward: overlayfs (kit.NeedOverlay)
	"veth",    // lesson 06: the container's end of the cable
	"bridge",  // lesson 06: the host's switch (pulls in stp and llc)
	"tun",     // the capstone: TAP devices for rootless networking (slirp4netns, pasta)
	// nf_tables needs libcrc32c, which asks the crypto API for "crc32c" as
	// it loads (softdep=pre: crc32c, an alias that only modprobe resolves):
	// the generic implementation, first.
	"crc32c_generic",
	"nf_tables", // lesson 06: NAT and port mapping rules
	// The pieces of nf_tables that lesson 06's NAT and port mapping use
	// (ip and inet families): nat chains, masquerade, dnat/snat, conntrack
	// state, and fib ("fib daddr type local": traffic to the host's own
	// addresses, which a published port catches). nft_fib_inet pulls in
	// nft_fib_ipv4 and nft_fib_ipv6, and nft_nat nf_nat and nf_conntrack.
	// Not br_netfilter: it sends bridged frames through the ip hooks, which
	// changes how traffic between containers behaves; a test that wants that
	// must load it on purpose.
	"nft_chain_nat", "nft_nat", "nft_masq", "nft_ct", "nft_fib_inet",
}

// pvhNoteType is XEN_ELFNOTE_PHYS32_ENTRY (xen/include/public/elfnote.h):
// the 32-bit entry point QEMU's -kernel uses to boot an ELF kernel.
const pvhNoteType = 18

// kernel is a kernel ready to boot: a file for -kernel and the modules to
// put in the initramfs.
type kernel struct {
	Release string   // uname -r, e.g. 6.1.0-56-amd64
	Image   string   // vmlinux (PVH) or, failing that, the bzImage
	PVH     bool     // Image is an ELF with a PVH entry point
	Modules []string // paths relative to ModDir, in load order
	ModDir  string   // holds lib/modules/<release>/...
	Source  string   // where it came from, for the report
}

// prepareKernel returns the kernel ready to boot: the pinned packages
// (kernelPin), or debPaths if given: .deb files to use instead, a kernel
// image package and, where the distribution ships them apart (Ubuntu's
// linux-modules-*), its modules. What is unpacked is cached under a key of
// the packages and the modules wanted (kernelModules), so adding a module
// unpacks again from the cached .deb.
func prepareKernel(ctx context.Context, cacheDir string, debPaths []string, logf func(string, ...any)) (*kernel, error) {
	h := sha256.New()
	fmt.Fprintf(h, "modules %s\n", strings.Join(kernelModules, " "))
	var debs []string
	var source, prefix string
	if len(debPaths) == 0 {
		var err error
		if debs, err = fetchPinned(ctx, cacheDir, kernelPin, logf); err != nil {
			return nil, err
		}
		var names []string
		for _, p := range kernelPin {
			fmt.Fprintf(h, "%s %s\n", p, p.SHA256)
			names = append(names, fmt.Sprintf("%s (pinned, SHA-256 %.12s…)", p, p.SHA256))
		}
		source, prefix = strings.Join(names, ", "), "pin-"
	} else {
		// The key of a local package: its name, size and modification time.
		for _, p := range debPaths {
			a, err := filepath.Abs(p)
			if err != nil {
				return nil, err
			}
			fi, err := os.Stat(a)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(h, "%s %d %d\n", a, fi.Size(), fi.ModTime().UnixNano())
			debs = append(debs, a)
		}
		source, prefix = "local "+strings.Join(debPaths, ", "), "local-"
	}
	dir := filepath.Join(cacheDir, "kernel", prefix+hex.EncodeToString(h.Sum(nil))[:16])
	pruneKernels(filepath.Dir(dir), dir)
	if k, err := loadKernel(dir); err == nil {
		return k, nil
	}
	return unpackKernel(ctx, debs, dir, source, logf)
}

// pruneKernels marks dir as used now and removes the unpacked kernels that
// no run used for two weeks (an earlier pin or module list). Not sooner:
// another branch's lane may share the cache with another module list.
func pruneKernels(parent, dir string) {
	now := time.Now()
	_ = os.Chtimes(dir, now, now)
	entries, _ := os.ReadDir(parent)
	for _, e := range entries {
		p := filepath.Join(parent, e.Name())
		if fi, err := e.Info(); err == nil && p != dir && e.IsDir() && now.Sub(fi.ModTime()) > 14*24*time.Hour {
			os.RemoveAll(p)
		}
	}
}

// loadKernel reads a kernel that unpackKernel left in dir.
func loadKernel(dir string) (*kernel, error) {
	b, err := os.ReadFile(filepath.Join(dir, "kernel.txt"))
	if err != nil {
		return nil, err
	}
	k := &kernel{ModDir: filepath.Join(dir, "root")}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		key, val, _ := strings.Cut(line, " ")
		switch key {
		case "release":
			k.Release = val
		case "image":
			k.Image = filepath.Join(dir, val)
		case "pvh":
			k.PVH = val == "true"
		case "module":
			k.Modules = append(k.Modules, val)
		case "source":
			k.Source = val
		}
	}
	if k.Release == "" || k.Image == "" {
		return nil, fmt.Errorf("%s: incomplete kernel cache", dir)
	}
	return k, nil
}

// unpackKernel unpacks the .debs and keeps the kernel and modules in dir;
// source says where they came from, for the report.
func unpackKernel(ctx context.Context, debs []string, dir, source string, logf func(string, ...any)) (*kernel, error) {
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	scratch, err := os.MkdirTemp(parent, ".unpack-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	var names []string
	for _, deb := range debs {
		names = append(names, filepath.Base(deb))
		logf("unpacking %s", filepath.Base(deb))
		if out, err := exec.CommandContext(ctx, "dpkg-deb", "-x", deb, filepath.Join(scratch, "deb")).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("dpkg-deb -x %s: %w\n%s", deb, err, out)
		}
	}
	deb := strings.Join(names, ", ") // for messages
	images, _ := filepath.Glob(filepath.Join(scratch, "deb/boot/vmlinuz-*"))
	if len(images) != 1 {
		return nil, fmt.Errorf("%s: %d boot/vmlinuz-* files; want 1", deb, len(images))
	}
	release := strings.TrimPrefix(filepath.Base(images[0]), "vmlinuz-")
	out := filepath.Join(scratch, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	desc := fmt.Sprintf("source %s\nrelease %s\n", source, release)

	pvh := false
	vmlinux := filepath.Join(out, "vmlinux")
	if err := extractVmlinux(ctx, images[0], vmlinux); err != nil {
		logf("cannot extract vmlinux (%v): booting the compressed kernel, which is slower", err)
	} else if pvh, err = hasPVHEntry(vmlinux); err != nil || !pvh {
		logf("vmlinux has no PVH entry point (%v): booting the compressed kernel, which is slower", err)
		os.Remove(vmlinux)
	}
	if pvh {
		desc += "image vmlinux\npvh true\n"
	} else {
		if err := copyRegular(images[0], filepath.Join(out, "bzImage")); err != nil {
			return nil, err
		}
		desc += "image bzImage\npvh false\n"
	}

	modRoot := filepath.Join(scratch, "deb/lib/modules", release)
	if _, err := os.Stat(modRoot); err != nil {
		modRoot = filepath.Join(scratch, "deb/usr/lib/modules", release) // merged /usr
	}
	builtin, _ := os.ReadFile(filepath.Join(modRoot, "modules.builtin"))
	ix, err := indexModules(modRoot, string(builtin))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", deb, err)
	}
	plain := map[string][]byte{} // module file → uncompressed content
	read := func(rel string) ([]byte, error) {
		if b, ok := plain[rel]; ok {
			return b, nil
		}
		b, err := os.ReadFile(filepath.Join(modRoot, rel))
		if err == nil && trimModuleCompression(rel) != rel {
			b, err = decompress(ctx, b)
		}
		plain[rel] = b
		return b, err
	}
	order, err := moduleLoadOrder(ix, kernelModules, func(rel string) ([]string, []string, error) {
		b, err := read(rel)
		if err != nil {
			return nil, nil, err
		}
		return modinfoDepends(b)
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", deb, err)
	}
	for _, rel := range order {
		// Uncompressed: busybox's insmod may not read .ko.xz or .ko.zst
		// (Debian 13's kernels compress their modules).
		dst := filepath.Join("lib/modules", release, trimModuleCompression(rel))
		if err := os.MkdirAll(filepath.Join(out, "root", filepath.Dir(dst)), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(out, "root", dst), plain[rel], 0o644); err != nil {
			return nil, err
		}
		desc += "module " + filepath.ToSlash(dst) + "\n"
	}
	if err := os.WriteFile(filepath.Join(out, "kernel.txt"), []byte(desc), 0o644); err != nil {
		return nil, err
	}
	os.RemoveAll(dir)
	if err := os.Rename(out, dir); err != nil {
		return nil, err
	}
	return loadKernel(dir)
}

// extractVmlinux finds the compressed kernel in a bzImage and decompresses
// it. The x86 boot protocol (Documentation/arch/x86/boot.rst) says where:
// the protected-mode code starts after (setup_sects+1)*512 bytes, and
// payload_offset/payload_length (protocol 2.08+) locate the compressed
// kernel within it.
func extractVmlinux(ctx context.Context, bzImage, dst string) error {
	img, err := os.ReadFile(bzImage)
	if err != nil {
		return err
	}
	payload, err := bzImagePayload(img)
	if err != nil {
		return err
	}
	out, err := decompress(ctx, payload)
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(out, []byte("\x7fELF")) {
		return errors.New("the decompressed payload is not an ELF file")
	}
	return os.WriteFile(dst, out, 0o644)
}

// bzImagePayload returns the compressed kernel inside a bzImage.
func bzImagePayload(img []byte) ([]byte, error) {
	if len(img) < 0x250 || string(img[0x202:0x206]) != "HdrS" {
		return nil, errors.New("not a bzImage (no HdrS boot header)")
	}
	if v := binary.LittleEndian.Uint16(img[0x206:]); v < 0x208 {
		return nil, fmt.Errorf("boot protocol %#x has no payload fields (want 2.08+)", v)
	}
	setupSects := int(img[0x1f1])
	if setupSects == 0 {
		setupSects = 4
	}
	off := (setupSects+1)*512 + int(binary.LittleEndian.Uint32(img[0x248:]))
	n := int(binary.LittleEndian.Uint32(img[0x24c:]))
	if off < 0 || n <= 0 || off+n > len(img) {
		return nil, fmt.Errorf("payload at %d+%d lies outside the %d-byte image", off, n, len(img))
	}
	return img[off : off+n], nil
}

// decompressors by magic number, as in scripts/extract-vmlinux; gzip is
// done in Go, the others by their Debian tools.
var decompressors = []struct {
	magic string
	argv  []string
}{
	{"\xfd7zXZ\x00", []string{"xz", "-dc", "--single-stream"}},
	{"\x28\xb5\x2f\xfd", []string{"zstd", "-dcq"}},
	{"\x5d\x00\x00", []string{"xz", "--format=lzma", "-dc", "--single-stream"}},
	{"\x02\x21\x4c\x18", []string{"lz4", "-dcq"}},
	{"BZh", []string{"bzip2", "-dc"}},
	{"\x89LZO", []string{"lzop", "-dcq"}},
}

// decompress undoes the kernel's compression. The payload ends with four
// bytes of decompressed size, which the tools are told to ignore.
func decompress(ctx context.Context, data []byte) ([]byte, error) {
	if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		zr.Multistream(false)
		return io.ReadAll(zr)
	}
	for _, d := range decompressors {
		if !bytes.HasPrefix(data, []byte(d.magic)) {
			continue
		}
		var out, errs bytes.Buffer
		cmd := exec.CommandContext(ctx, d.argv[0], d.argv[1:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(data), &out, &errs
		// The trailing size makes some tools complain after a complete
		// stream; what matters is that an ELF came out.
		if err := cmd.Run(); err != nil && out.Len() == 0 {
			return nil, fmt.Errorf("%s: %w (%s)", strings.Join(d.argv, " "), err, strings.TrimSpace(errs.String()))
		}
		return out.Bytes(), nil
	}
	return nil, fmt.Errorf("unknown compression (magic % x)", data[:min(len(data), 6)])
}

// hasPVHEntry reports whether the ELF kernel has a PVH entry note.
func hasPVHEntry(path string) (bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		b, err := io.ReadAll(p.Open())
		if err != nil {
			return false, err
		}
		if hasNote(b, "Xen", pvhNoteType) {
			return true, nil
		}
	}
	return false, nil
}

// hasNote walks ELF notes (namesz, descsz, type, name, desc; 4-aligned).
func hasNote(b []byte, name string, typ uint32) bool {
	for len(b) >= 12 {
		namesz := int(binary.LittleEndian.Uint32(b))
		descsz := int(binary.LittleEndian.Uint32(b[4:]))
		t := binary.LittleEndian.Uint32(b[8:])
		b = b[12:]
		nlen, dlen := (namesz+3)&^3, (descsz+3)&^3
		if nlen+dlen > len(b) || namesz < 0 || descsz < 0 {
			return false
		}
		if t == typ && strings.TrimRight(string(b[:namesz]), "\x00") == name {
			return true
		}
		b = b[nlen+dlen:]
	}
	return false
}

func trimModuleCompression(rel string) string {
	for _, ext := range []string{".xz", ".zst", ".gz"} {
		if strings.HasSuffix(rel, ".ko"+ext) {
			return strings.TrimSuffix(rel, ext)
		}
	}
	return rel
}

func copyRegular(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}
