//go:build linux

package main

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/unboxlab/unbox/internal/kit"
	"github.com/unboxlab/unbox/internal/volume"
)

func (l *lab) stepNamed(s *kit.Session) error {
	var ctrs []*container
	for _, name := range []string{"a", "b"} {
		c, err := l.run(s, runOpts{Name: name, Volumes: []string{"data:/data"}})
		if err != nil {
			return err
		}
		ctrs = append(ctrs, c)
	}
	a, b := ctrs[0], ctrs[1]
	if err := l.mustDo(s, a, "sh -c 'echo hello from a > /data/a.txt'",
		request{Op: "write", Path: "/data/a.txt", Data: "hello from a\n"}); err != nil {
		return err
	}
	r, err := l.exec(s, b, "cat /data/a.txt", request{Op: "cat", Path: "/data/a.txt"})
	if err != nil {
		return err
	}
	inside(s, r, "cat /data/a.txt")
	if err := l.mustDo(s, b, "sh -c 'echo hello from b > /data/b.txt'",
		request{Op: "write", Path: "/data/b.txt", Data: "hello from b\n"}); err != nil {
		return err
	}
	if r, err = l.exec(s, a, "ls -ln /data", request{Op: "ls", Path: "/data"}); err != nil {
		return err
	}
	inside(s, r, "ls /data")
	v, err := l.store.Get("data")
	if err != nil {
		return err
	}
	s.Cmd("docker volume inspect data")
	s.Host("Mountpoint: %s\nUsed by:    %s", v.Mountpoint, strings.Join(v.Users, ", "))
	s.Cmd("ls -ln volumes/data/_data")
	l.hostLs(s, v.Mountpoint)

	for _, c := range ctrs {
		if _, err := l.remove(c, false); err != nil {
			return err
		}
	}
	s.Cmd("docker rm -f a b")
	s.Cmd("ls -ln volumes/data/_data")
	l.hostLs(s, v.Mountpoint)
	if err := l.volumeLs(s, false); err != nil {
		return err
	}
	s.Note("A named volume is one directory of the store (Docker's is /var/lib/docker/volumes/data/_data),\n" +
		"mounted into every container that names it: a's write was b's read at once, through the same\n" +
		"directory. Removing the containers removed their upper dirs; the volume is the store's, and\n" +
		"stays until docker volume rm data.")

	bad := runOpts{Name: "x", Volumes: []string{"../etc:/data"}}
	if err := l.refused(s, bad); err != nil {
		return err
	}
	s.Note("A name is one directory of the store, so it may hold no / and no leading dot: ../etc can\n" +
		"neither name a volume nor reach out of the store. A path is a bind, and must be absolute.")
	return nil
}

func (l *lab) stepAnonymous(s *kit.Session) error {
	job, err := l.run(s, runOpts{Name: "job1", Volumes: []string{"/scratch"}})
	if err != nil {
		return err
	}
	id := job.attached.Volumes[0].Name
	if err := l.mustDo(s, job, "sh -c 'echo partial results > /scratch/out.txt'",
		request{Op: "write", Path: "/scratch/out.txt", Data: "partial results\n"}); err != nil {
		return err
	}
	s.Cmd("ls -ln volumes/$ID/_data")
	l.hostLs(s, job.attached.Volumes[0].Mountpoint)
	if _, err := l.remove(job, false); err != nil {
		return err
	}
	s.Cmd("docker rm -f job1    # without -v: its anonymous volume stays")

	job2, err := l.run(s, runOpts{Name: "job2", Rm: true, Volumes: []string{"/scratch"}})
	if err != nil {
		return err
	}
	removed, err := l.remove(job2, false)
	if err != nil {
		return err
	}
	id2 := job2.attached.Volumes[0].Name
	s.Cmd("docker stop job2    # --rm: docker rm -v job2 when it stops\n%s",
		strings.ReplaceAll(strings.Join(l.takeEventLines(), "\n"), id2, "$ID"))
	if len(removed) != 1 {
		return fmt.Errorf("docker rm of a --rm container removed volumes %v; want its anonymous one", removed)
	}
	if err := l.volumeLs(s, true); err != nil {
		return err
	}
	pruned, err := l.store.Prune(false)
	if err != nil {
		return err
	}
	s.Cmd("docker volume prune    # the dangling anonymous volumes; -a: the named ones too\n%s",
		strings.Join(l.takeEventLines(), "\n"))
	if len(pruned) != 1 || pruned[0] != id {
		return fmt.Errorf("docker volume prune removed %v; want %s", pruned, id)
	}
	s.Note("An anonymous volume is a named one whose name nobody chose: a new one per container, which a\n" +
		"second container cannot name. So docker rm leaves it behind unless told (-v, or --rm), and\n" +
		"dangling volumes pile up: docker volume ls -f dangling=true, then docker volume prune.")
	return nil
}

// takeEventLines is takeEvents, paths relative to the lab.
func (l *lab) takeEventLines() []string {
	var out []string
	for _, e := range l.takeEvents() {
		out = append(out, l.rel(e))
	}
	return out
}

// volumeLs prints `docker volume ls` (dangling only, with dangling): each
// volume, its kind, the containers that use it.
func (l *lab) volumeLs(s *kit.Session, dangling bool) error {
	vs, err := l.store.List()
	if err != nil {
		return err
	}
	cmd := "docker volume ls"
	if dangling {
		cmd += " -f dangling=true"
	}
	s.Cmd("%s", cmd)
	// Named volumes first, then anonymous ones, each kind by name: a
	// random ID sorts anywhere.
	slices.SortStableFunc(vs, func(a, b volume.Volume) int {
		return cmp.Compare(fmt.Sprint(a.Anonymous), fmt.Sprint(b.Anonymous))
	})
	var rows [][]string
	for _, v := range vs {
		if dangling && !v.Dangling() {
			continue
		}
		kind, users := "named", "(none: dangling)"
		if v.Anonymous {
			kind = "anonymous"
		}
		if len(v.Users) > 0 {
			users = strings.Join(v.Users, ", ")
		}
		rows = append(rows, []string{shortName(v), kind, users})
	}
	s.Table([]string{"volume", "kind", "used by"}, rows)
	return nil
}

// shortName is a volume's name, an anonymous volume's ID cut to 12
// digits, as docker ps cuts container IDs.
func shortName(v volume.Volume) string {
	if volume.IsID(v.Name) {
		return v.Name[:12]
	}
	return v.Name
}
