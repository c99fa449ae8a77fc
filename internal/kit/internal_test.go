//go:build linux

package kit

import (
	"slices"
	"testing"
)

func TestUseColor(t *testing.T) {
	env := fakeEnv
	for _, c := range []struct {
		name     string
		terminal bool
		lookup   func(string) (string, bool)
		want     bool
	}{
		{"terminal", true, env(), true},
		{"pipe", false, env(), false},
		{"NO_COLOR", true, env("NO_COLOR", "1"), false},
		{"empty NO_COLOR", true, env("NO_COLOR", ""), true},
		{"dumb terminal", true, env("TERM", "dumb"), false},
	} {
		if got := useColor(c.terminal, c.lookup); got != c.want {
			t.Errorf("useColor(%s) = %v; want %v", c.name, got, c.want)
		}
	}
}

func TestSelectSteps(t *testing.T) {
	l := &Lesson{Steps: []Step{{}, {}, {Requires: []int{1}}, {}}}
	for _, c := range []struct {
		stop, only int
		want       []int
		err        bool
	}{
		{0, 0, []int{0, 1, 2, 3}, false},
		{2, 0, []int{0, 1}, false},
		{0, 2, []int{1}, false},
		{0, 3, []int{0, 2}, false},
		{5, 0, nil, true},
		{0, -1, nil, true},
		{1, 1, nil, true},
	} {
		got, err := selectSteps(l, c.stop, c.only)
		if (err != nil) != c.err || !slices.Equal(got, c.want) {
			t.Errorf("selectSteps(--step %d, --only %d) = %v, %v; want %v (error %v)", c.stop, c.only, got, err, c.want, c.err)
		}
	}
}

func TestRenderTable(t *testing.T) {
	got := RenderTable([]string{"need", "found"}, [][]string{{"root", "running as uid 1000"}, {"overlayfs", "ok"}})
	want := "need       found\n" +
		"------------------------------\n" +
		"root       running as uid 1000\n" +
		"overlayfs  ok"
	if got != want {
		t.Errorf("RenderTable = \n%s\nwant\n%s", got, want)
	}
}
