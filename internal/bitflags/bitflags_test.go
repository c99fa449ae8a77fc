package bitflags

import "testing"

func TestFormat(t *testing.T) {
	names := []Name{{1, "A"}, {4, "C"}, {2, "B"}}
	for _, c := range []struct {
		flags uintptr
		want  string
	}{
		{0, "0"},
		{1 | 2 | 4, "A|C|B"},
		{2 | 16, "B|0x10"},
	} {
		if got := Format(c.flags, names); got != c.want {
			t.Errorf("Format(%#x) = %q; want %q", c.flags, got, c.want)
		}
	}
}
