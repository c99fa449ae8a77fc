package procfs

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestUnescape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`/plain`, "/plain"},
		{`/tmp/sp\040ace`, "/tmp/sp ace"},
		{`a\134b`, `a\b`},
		{`tab\011new\012line`, "tab\tnew\nline"},
		{`not\08octal`, `not\08octal`}, // 8 is not an octal digit
		{`short\04`, `short\04`},       // too short to be an escape
		{`end\`, `end\`},
	} {
		if got := Unescape(tc.in); got != tc.want {
			t.Errorf("Unescape(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseMountinfoEscapesAndPropagation(t *testing.T) {
	ms, err := ParseMountinfo(strings.NewReader(string(readTestdata(t, "mountinfo-escapes.txt"))))
	if err != nil {
		t.Fatal(err)
	}
	m, ok := Mounts(ms).At("/tmp/sp ace")
	if !ok {
		t.Fatalf("At(%q) found nothing in %+v", "/tmp/sp ace", ms)
	}
	want := Mount{ID: 65, Parent: 45, Major: 0, Minor: 39, Root: "/", Point: "/tmp/sp ace",
		Options: "rw,relatime", Optional: []string{"shared:1"}, Type: "tmpfs", Source: `a\b`, Super: "rw,size=1024k"}
	if m.Point != want.Point || m.Source != want.Source || m.ID != want.ID || m.Parent != want.Parent ||
		m.Minor != want.Minor || !slices.Equal(m.Optional, want.Optional) || m.Super != want.Super {
		t.Errorf("parsed %+v; want %+v", m, want)
	}
	if !m.Shared() || m.Propagation() != "shared:1" {
		t.Errorf("Shared() = %v, Propagation() = %q; want true, shared:1", m.Shared(), m.Propagation())
	}
	pts, _ := Mounts(ms).At("/dev/pts")
	if pts.Shared() || pts.Propagation() != "private" || pts.Optional != nil {
		t.Errorf("/dev/pts: Shared() = %v, Propagation() = %q; want false, private", pts.Shared(), pts.Propagation())
	}
	if got, want := pts.Line(), "devpts on /dev/pts type devpts (rw,relatime)"; got != want {
		t.Errorf("Line() = %q; want %q", got, want)
	}
}

func TestParseMountinfoHost(t *testing.T) {
	ms, err := ParseMountinfo(strings.NewReader(string(readTestdata(t, "mountinfo-host.txt"))))
	if err != nil {
		t.Fatal(err)
	}
	root, ok := Mounts(ms).At("/")
	if !ok || root.Type == "" {
		t.Fatalf("At(/) = %+v, %v; want the root mount", root, ok)
	}
	proc := Mounts(ms).Under("/proc")
	if len(proc) == 0 || proc[0].Type != "proc" {
		t.Errorf("Under(/proc) = %+v; want the proc mount first", proc)
	}
	for _, m := range Mounts(ms).Under("/sys/fs/cgroup") {
		if !strings.HasPrefix(m.Point, "/sys/fs/cgroup") {
			t.Errorf("Under(/sys/fs/cgroup) holds %s", m.Point)
		}
	}
	if got := Mounts(ms).Under("/pro"); len(got) != 0 {
		t.Errorf("Under(/pro) = %+v; want nothing (a prefix of a name is not a parent)", got)
	}
}

func TestAtTopOfStack(t *testing.T) {
	text := "1 0 0:1 / / rw - ext4 /dev/vda rw\n" +
		"2 1 0:2 / /mnt rw - tmpfs first rw\n" +
		"3 2 0:3 / /mnt ro - tmpfs second rw\n"
	ms, err := ParseMountinfo(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := Mounts(ms).At("/mnt")
	if m.Source != "second" || !m.ReadOnly() {
		t.Errorf("At(/mnt) = %s (ro %v); want second, read-only: the last listed is on top", m.Source, m.ReadOnly())
	}
}

func TestParseMountinfoMalformed(t *testing.T) {
	for _, line := range []string{
		"1 0 0:1 / / rw ext4 /dev/vda rw",   // no separator
		"x 0 0:1 / / rw - ext4 /dev/vda rw", // ID not a number
		"1 0 01 / / rw - ext4 /dev/vda rw",  // no major:minor
		"1 0 0:1 / / rw - ext4",             // no source
		"1 0 0:1 / / - ext4 /dev/vda rw",    // too few fields before "-"
	} {
		if _, err := ParseMountinfo(strings.NewReader(line + "\n")); err == nil {
			t.Errorf("ParseMountinfo(%q) = nil error; want one", line)
		}
	}
}

func TestReadMountinfoSelf(t *testing.T) {
	ms, err := ReadMountinfo("self")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := Mounts(ms).At("/"); !ok {
		t.Errorf("ReadMountinfo(self) has no / mount")
	}
}

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		file string
		want Stat
	}{
		{"stat.txt", Stat{PID: 12617, Comm: "cat", State: "R", PPID: 12607, StartTime: 23800}},
		{"stat-comm.txt", Stat{PID: 4242, Comm: "a) b) c", State: "S", PPID: 1, StartTime: 99}},
	} {
		got, err := ParseStat(readTestdata(t, tc.file))
		if err != nil || got != tc.want {
			t.Errorf("ParseStat(%s) = %+v, %v; want %+v", tc.file, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "12 cat R 1", "12 (cat) R x 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1", "12 (cat) R 1"} {
		if _, err := ParseStat([]byte(bad)); err == nil {
			t.Errorf("ParseStat(%q) = nil error; want one", bad)
		}
	}
}

func TestReadStatSelf(t *testing.T) {
	st, err := ReadStat("self")
	if err != nil {
		t.Fatal(err)
	}
	if st.PID != os.Getpid() || st.PPID != os.Getppid() {
		t.Errorf("ReadStat(self) = pid %d ppid %d; want %d %d", st.PID, st.PPID, os.Getpid(), os.Getppid())
	}
	pids, err := PIDs()
	if err != nil || !slices.Contains(pids, os.Getpid()) {
		t.Errorf("PIDs() = %v, %v; want a list holding %d", pids, err, os.Getpid())
	}
}

func TestParseStatus(t *testing.T) {
	st, err := ParseStatus(readTestdata(t, "status.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if st["Name"] != "cat" {
		t.Errorf("Name = %q; want cat", st["Name"])
	}
	uid, err := st.Ints("Uid")
	if err != nil || !slices.Equal(uid, []int{0, 0, 0, 0}) {
		t.Errorf("Ints(Uid) = %v, %v; want [0 0 0 0]", uid, err)
	}
	if _, err := st.Hex("CapEff"); err != nil {
		t.Errorf("Hex(CapEff): %v", err)
	}
	if _, err := st.Ints("NoSuchKey"); err == nil {
		t.Errorf("Ints(NoSuchKey) = nil error; want one")
	}
}

func TestEnviron(t *testing.T) {
	env := Environ([]byte("A=1\x00PATH=/bin:/usr/bin\x00EMPTY=\x00"))
	if v, ok := Lookup(env, "PATH"); !ok || v != "/bin:/usr/bin" {
		t.Errorf("Lookup(PATH) = %q, %v; want /bin:/usr/bin", v, ok)
	}
	if v, ok := Lookup(env, "EMPTY"); !ok || v != "" {
		t.Errorf("Lookup(EMPTY) = %q, %v; want \"\", true", v, ok)
	}
	if _, ok := Lookup(env, "PAT"); ok {
		t.Errorf("Lookup(PAT) found a prefix of PATH")
	}
}

func TestParseCgroup(t *testing.T) {
	v1, err := ParseCgroup(string(readTestdata(t, "proc-self-cgroup-v1.txt")))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := CgroupPath(v1, "memory"); !ok {
		t.Errorf("CgroupPath(v1, memory): not found in %+v", v1)
	}
	v2, err := ParseCgroup(string(readTestdata(t, "proc-self-cgroup-v2.txt")))
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := CgroupPath(v2, ""); !ok || !strings.HasPrefix(p, "/") {
		t.Errorf("CgroupPath(v2, \"\") = %q, %v; want an absolute path", p, ok)
	}
	if _, ok := CgroupPath(v2, "memory"); ok {
		t.Errorf("CgroupPath(v2, memory) found a v1 hierarchy in a v2-only file")
	}
	colon, err := ParseCgroup("0::/a:b/c\n")
	if err != nil || colon[0].Path != "/a:b/c" {
		t.Errorf("ParseCgroup(0::/a:b/c) = %+v, %v; want path /a:b/c", colon, err)
	}
	for _, bad := range []string{"0:/x", "x::/y"} {
		if _, err := ParseCgroup(bad); err == nil {
			t.Errorf("ParseCgroup(%q) = nil error; want one", bad)
		}
	}
}
