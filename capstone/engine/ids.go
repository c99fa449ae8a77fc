package engine

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
)

// ShortLen is the length of a short ID, as `docker ps` shows it.
const ShortLen = 12

// newID is a container ID: 64 hexadecimal digits from crypto/rand, as
// Docker's. The engine also keeps each ID's first ShortLen digits unique
// among its containers (Create draws again on a clash), since the
// per-container directory under the state root is named by them.
func newID() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make a container ID: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// Short is an ID's first ShortLen digits.
func Short(id string) string {
	if len(id) > ShortLen {
		return id[:ShortLen]
	}
	return id
}

// isHex reports whether s is a non-empty string of lower-case
// hexadecimal digits: an ID or a prefix of one.
func isHex(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	return strings.Trim(s, "0123456789abcdef") == ""
}

// CheckName refuses a container name Docker would refuse: it must match
// [a-zA-Z0-9][a-zA-Z0-9_.-]+ (a leading "/", as inspect shows names,
// is dropped).
func CheckName(name string) (string, error) {
	n := strings.TrimPrefix(name, "/")
	ok := len(n) >= 2
	for i, c := range n {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || (c != '_' && c != '.' && c != '-')) {
			ok = false
		}
	}
	if !ok {
		return "", fmt.Errorf("invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	return n, nil
}
