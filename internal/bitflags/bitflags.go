package bitflags

import (
	"fmt"
	"strings"
)

// Name is one bit and how to spell it.
type Name struct {
	Bit  uintptr
	Name string
}

// Format spells flags with names, in the order of names; "0" for none.
func Format(flags uintptr, names []Name) string {
	if flags == 0 {
		return "0"
	}
	var out []string
	for _, n := range names {
		if flags&n.Bit != 0 {
			out = append(out, n.Name)
			flags &^= n.Bit
		}
	}
	if flags != 0 {
		out = append(out, fmt.Sprintf("%#x", flags))
	}
	return strings.Join(out, "|")
}
