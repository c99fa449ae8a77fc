package overlay

import (
	"strconv"
	"strings"
)

// kernelAtLeast compares a kernel release ("6.1.0-28-amd64") with
// major.minor.
func kernelAtLeast(release string, major, minor int) bool {
	fields := strings.FieldsFunc(release, func(r rune) bool { return r < '0' || r > '9' })
	if len(fields) < 2 {
		return false
	}
	maj, err1 := strconv.Atoi(fields[0])
	min, err2 := strconv.Atoi(fields[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return maj > major || maj == major && min >= minor
}
