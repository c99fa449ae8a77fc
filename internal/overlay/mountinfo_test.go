package overlay

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/unboxlab/unbox/internal/procfs"
)

// testdata/mountinfo-overlay.txt holds lines that Linux 6.18 wrote for
// overlays whose paths hold `:`, `,`, `\` and a space, mounted with
// `mount -t overlay -o 'lowerdir=/tmp/ubxexp/l\:1:/tmp/ubxexp/l\,2,upperdir=/tmp/ubxexp/u\\p x,...'`.
func TestFromMountReadsWhatTheKernelWrote(t *testing.T) {
	f, err := os.Open("testdata/mountinfo-overlay.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ms, err := procfs.ParseMountinfo(f)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := procfs.Mounts(ms).At("/tmp/ubxexp/m")
	if !ok {
		t.Fatalf("no mount at /tmp/ubxexp/m in %+v", ms)
	}
	got, err := FromMount(m)
	want := Layers{Lower: []string{"/tmp/ubxexp/l:1", "/tmp/ubxexp/l,2"}, Upper: `/tmp/ubxexp/u\p x`, Work: "/tmp/ubxexp/w"}
	if err != nil || !equalLayers(got, want) {
		t.Errorf("FromMount(%q) = %+v, %v; want %+v", m.Super, got, err, want)
	}
	root, _ := procfs.Mounts(ms).At("/")
	if _, err := FromMount(root); err == nil || !strings.Contains(err.Error(), "not an overlay") {
		t.Errorf("FromMount(the ext4 root) = %v; want an error saying it is not an overlay", err)
	}
}

// mountinfoEscape is what the kernel's seq_show_option does to an option
// value: octal escapes for a comma, a space, a tab, a newline and a
// backslash.
func mountinfoEscape(s string) string {
	return strings.NewReplacer(",", `\054`, " ", `\040`, "\t", `\011`, "\n", `\012`, `\`, `\134`).Replace(s)
}

// TestParseOptionsRoundTrip: what Options writes, escaped as the kernel
// shows it, reads back as the same layers.
func TestParseOptionsRoundTrip(t *testing.T) {
	for _, l := range []Layers{
		{Lower: []string{"/l/top", "/l/base"}, Upper: "/c/upper", Work: "/c/work"},
		{Lower: []string{"/l/a", "/l/b"}},
		{Lower: []string{`/odd:dir,with\separators/top:1`, "/bottom,2", "/a b\tc\nd"}, Upper: `/u:p,p\er`, Work: "/w o,rk"},
		{Lower: []string{`/trailing\`, "/x"}},
	} {
		opts, err := l.Options(4096)
		if err != nil {
			t.Fatal(err)
		}
		super := "rw," + kernelView(opts) + ",uuid=on,xino=off"
		got, err := ParseOptions(super)
		if err != nil || !equalLayers(got, l) {
			t.Errorf("ParseOptions(%q) = %+v, %v; want %+v", super, got, err, l)
		}
	}
}

// kernelView shows options the way mountinfo does: each option's value as
// given, escapes included, then escaped again by seq_show_option. It splits
// the options as the kernel does, at commas not escaped by a backslash.
func kernelView(opts string) string {
	var out []string
	start := 0
	for i := 0; i < len(opts); i++ {
		switch opts[i] {
		case '\\':
			i++
		case ',':
			out = append(out, opts[start:i])
			start = i + 1
		}
	}
	out = append(out, opts[start:])
	for i, o := range out {
		k, v, _ := strings.Cut(o, "=")
		out[i] = k + "=" + mountinfoEscape(v)
	}
	return strings.Join(out, ",")
}

func TestParseOptionsLowerdirPlus(t *testing.T) {
	// Linux 6.8's fsconfig(2) "lowerdir+": one layer per option, a colon
	// shown as \072, no backslash escapes of overlayfs's own.
	got, err := ParseOptions(`rw,lowerdir+=/a\072b,lowerdir+=/c\134d,upperdir=/u,workdir=/w`)
	want := Layers{Lower: []string{"/a:b", `/c\d`}, Upper: "/u", Work: "/w"}
	if err != nil || !equalLayers(got, want) {
		t.Errorf("ParseOptions(lowerdir+) = %+v, %v; want %+v", got, err, want)
	}
}

func TestParseOptionsRefuses(t *testing.T) {
	for _, super := range []string{
		"rw,lowerdir=/l1:/l2::/data1",
		"rw,lowerdir+=/l1,datadir+=/data1",
		"rw,lowerdir=/l1:",
		"rw,upperdir=/u,workdir=/w",
		"",
	} {
		if got, err := ParseOptions(super); err == nil {
			t.Errorf("ParseOptions(%q) = %+v; want an error", super, got)
		}
	}
}

func equalLayers(a, b Layers) bool {
	return slices.Equal(a.Lower, b.Lower) && a.Upper == b.Upper && a.Work == b.Work
}
