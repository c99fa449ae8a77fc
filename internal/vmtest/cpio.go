package main

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

// cpioWriter writes an initramfs: a cpio archive in the "newc" format, the
// one the kernel unpacks into its first root filesystem
// (Documentation/driver-api/early-userspace/buffer-format.rst). Every entry
// is owned by root with a zero mtime, so the same inputs make the same bytes.
// Parent directories are written before what they hold, as the kernel needs.
type cpioWriter struct {
	w    *bufio.Writer
	ino  uint32
	dirs map[string]bool
	err  error
}

func newCPIOWriter(w io.Writer) *cpioWriter {
	return &cpioWriter{w: bufio.NewWriterSize(w, 1<<20), ino: 1, dirs: map[string]bool{".": true, "": true}}
}

// cpio mode bits (stat(2) st_mode), which fs.FileMode does not use.
const (
	cpioDir     = 0o040000
	cpioRegular = 0o100000
	cpioSymlink = 0o120000
	cpioCharDev = 0o020000
)

// Dir adds a directory and any missing parents.
func (c *cpioWriter) Dir(name string, perm fs.FileMode) {
	name = cleanArchivePath(name)
	if c.dirs[name] {
		return
	}
	c.parents(name)
	c.dirs[name] = true
	c.header(name, cpioDir|unixPerm(perm), 0, 2)
}

// parents adds the directories above name, 0755 each.
func (c *cpioWriter) parents(name string) {
	if dir := path.Dir(name); !c.dirs[dir] {
		c.Dir(dir, 0o755)
	}
}

// Bytes adds a regular file with the given content.
func (c *cpioWriter) Bytes(name string, perm fs.FileMode, data []byte) {
	name = cleanArchivePath(name)
	c.parents(name)
	c.header(name, cpioRegular|unixPerm(perm), len(data), 1)
	c.data(strings.NewReader(string(data)), int64(len(data)))
}

// File adds a regular file copied from the host file src.
func (c *cpioWriter) File(name string, perm fs.FileMode, src string) {
	if c.err != nil {
		return
	}
	f, err := os.Open(src)
	if err != nil {
		c.err = err
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		c.err = err
		return
	}
	if !fi.Mode().IsRegular() {
		c.err = fmt.Errorf("%s is not a regular file", src)
		return
	}
	name = cleanArchivePath(name)
	c.parents(name)
	c.header(name, cpioRegular|unixPerm(perm), int(fi.Size()), 1)
	c.data(f, fi.Size())
}

// Symlink adds a symbolic link name → target.
func (c *cpioWriter) Symlink(name, target string) {
	name = cleanArchivePath(name)
	c.parents(name)
	c.header(name, cpioSymlink|0o777, len(target), 1)
	c.data(strings.NewReader(target), int64(len(target)))
}

// Node adds a device node; mode holds the type bits (cpioCharDev) and
// the permissions.
func (c *cpioWriter) Node(name string, mode uint32, major, minor uint32) {
	name = cleanArchivePath(name)
	c.parents(name)
	c.headerDev(name, mode, 0, 1, major, minor)
}

// Close writes the trailer and flushes; it reports the first error of any
// earlier call.
func (c *cpioWriter) Close() error {
	c.header("TRAILER!!!", 0, 0, 1)
	if c.err != nil {
		return c.err
	}
	return c.w.Flush()
}

// unixPerm is perm as stat(2) mode bits: permissions and the sticky bit
// (0o1000, which /tmp has).
func unixPerm(perm fs.FileMode) uint32 {
	m := uint32(perm.Perm())
	if perm&fs.ModeSticky != 0 {
		m |= 0o1000
	}
	return m
}

func cleanArchivePath(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

// header writes one newc header: the magic "070701", thirteen 8-digit hex
// fields, the NUL-terminated name, padding to a multiple of 4.
func (c *cpioWriter) header(name string, mode uint32, size int, nlink uint32) {
	c.headerDev(name, mode, size, nlink, 0, 0)
}

func (c *cpioWriter) headerDev(name string, mode uint32, size int, nlink, rdevMajor, rdevMinor uint32) {
	if c.err != nil {
		return
	}
	ino := c.ino
	c.ino++
	if name == "TRAILER!!!" {
		ino = 0
	}
	h := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		ino, mode, 0, 0, nlink, 0, size, 0, 0, rdevMajor, rdevMinor, len(name)+1, 0)
	_, c.err = io.WriteString(c.w, h+name+"\x00")
	c.pad(len(h) + len(name) + 1)
}

func (c *cpioWriter) data(r io.Reader, size int64) {
	if c.err != nil {
		return
	}
	n, err := io.Copy(c.w, r)
	if err == nil && n != size {
		err = fmt.Errorf("cpio: wrote %d bytes; want %d (file changed while archiving?)", n, size)
	}
	c.err = err
	c.pad(int(size))
}

func (c *cpioWriter) pad(n int) {
	if c.err == nil && n%4 != 0 {
		_, c.err = c.w.Write(make([]byte, 4-n%4))
	}
}
