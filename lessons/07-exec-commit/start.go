//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/nsenter"
)

func (st *state) stepContainer(s *kit.Session) error {
	root := filepath.Join(os.TempDir(), kit.UniqueName("lesson07"))
	l, err := newLab(root)
	if err != nil {
		return err
	}
	st.lab = l
	s.Cleanup(l.teardown)
	s.Cmd("mkdir %s && cd %s", root, root)

	if st.base, st.source, err = l.buildBase(s.Ctx); err != nil {
		return err
	}
	s.Cmd("# the image: FROM <a root filesystem>, COPY app/ /. A gzip'd tar per layer, named by its\n" +
		"# digest; a config and a manifest list them; image/index.json names the manifest \"base\"\n" +
		"umoci ls --layout image; umoci stat --image image:base")
	s.Show("base")
	var rows [][]string
	for i, ly := range st.base.Layers() {
		rows = append(rows, []string{fmt.Sprint(i + 1), st.base.Config.History[i].CreatedBy,
			short(ly.DiffID), fmt.Sprint(ly.Descriptor.Size)})
	}
	s.Table([]string{"layer", "created by", "diff ID", "bytes"}, rows)

	if st.snaps, err = l.unpack(st.base); err != nil {
		return err
	}
	var cmds []string
	for _, sn := range st.snaps {
		cmds = append(cmds, fmt.Sprintf("tar -xzf image/blobs/sha256/%s… -C %s",
			short(sn.Layer.Descriptor.Digest), l.rel(sn.Dir)))
	}
	s.Cmd("# each layer unpacked once, into a snapshot named by its diff ID (internal/layer.Unpack)\n%s",
		strings.Join(cmds, "\n"))

	c, err := l.newContainer("web", st.base, st.snaps)
	if err != nil {
		return err
	}
	st.web = c
	s.Cmd("mkdir -p %s/{init/etc,upper,work,merged}    # init/etc: hostname, hosts, resolv.conf\n"+
		"mount -t overlay overlay %s -o \\\n    lowerdir=%s,\\\n    upperdir=%s,workdir=%s",
		l.rel(c.Dir), l.rel(c.Merged), relList(l, c.Layers.Lower), l.rel(c.Upper), l.rel(c.Work))
	if err := c.start(s.Ctx, l); err != nil {
		return err
	}
	s.Cmd("mkdir -p /sys/fs/cgroup%s    # v1: in /sys/fs/cgroup/pids (lesson 02)\n"+
		"unshare --user --map-users=0:0:65536 --map-groups=0:0:65536 --mount --uts --ipc --net --pid \\\n"+
		"    --fork sh -c 'echo $$ > .../cgroup.procs; unshare --cgroup ...; mount ...; pivot_root ...;\n"+
		"    exec sleep 86400'    # lessons 01 to 03; internal/mount.EnterRoot", c.Cgroup.Path())
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", c.Pid()))
	if err != nil {
		return err
	}
	s.Host("PID 1 of container web is host pid %d: %s", c.Pid(), strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " ")))
	s.Cmd("PID=%d\n%s", c.Pid(), execFunction(c))
	s.Note("A container, as lessons 01 to 04 built one: namespaces, a cgroup, a root on an overlay of image\n" +
		"layers, and one long-running process. Its user namespace maps IDs 0-65535 to themselves, so\n" +
		"files keep their owners, and root inside has its powers only over the container's namespaces.")
	return nil
}

func relList(l *lab, dirs []string) string {
	out := make([]string, len(dirs))
	for i, d := range dirs {
		out[i] = l.rel(d)
	}
	return strings.Join(out, ":")
}

func (st *state) stepNamespaces(s *kit.Session) error {
	c, err := st.running()
	if err != nil {
		return err
	}
	s.Cmd("ls -l /proc/$PID/ns /proc/self/ns    # $PID: the container's PID 1, as the host numbers it")
	host, err := nsenter.Inodes(os.Getpid())
	if err != nil {
		return err
	}
	ctr, err := nsenter.Inodes(c.Pid())
	if err != nil {
		return err
	}
	var rows [][]string
	differ := 0
	for _, kind := range nsenter.All {
		same := s.T("its own")
		if host[kind] == ctr[kind] {
			same = s.T("the host's")
		} else {
			differ++
		}
		rows = append(rows, []string{string(kind), fmt.Sprint(host[kind]), fmt.Sprint(ctr[kind]), same})
	}
	s.Table([]string{"namespace", "this lesson", "PID 1 of web", ""}, rows)
	s.Cmd("nsenter --target $PID --all sh    # a shell in all of them: steps 4 to 6 do this in Go")
	s.Note("%d namespaces are the container's own; the time namespace is the host's, since the container\n"+
		"did not ask for one. Two processes are in the same namespace when these inode numbers are\n"+
		"equal. Joining the container means joining the %d, as nsenter --all does: it skips a namespace\n"+
		"the caller is in already.", differ, differ)
	return nil
}
