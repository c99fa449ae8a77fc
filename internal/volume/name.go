package volume

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
)

// namePattern is Docker's rule for a local volume's name (moby
// daemon/names, RestrictedNamePattern): a letter or digit, then at least one
// more of letters, digits, "_", "." and "-". It leaves out "/" and a
// leading ".", so a name is always one directory of the store, never "..",
// and never one of the store's own dot files.
var namePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// maxName keeps a volume's directory name within NAME_MAX (255 bytes).
const maxName = 255

// ValidateName fails unless name can name a volume. The error says what
// a name may hold, and that a host directory is given by absolute path.
func ValidateName(name string) error {
	if len(name) > maxName {
		return fmt.Errorf("volume name %.20q...: longer than %d bytes", name, maxName)
	}
	if !namePattern.MatchString(name) {
		return fmt.Errorf("%q is not a valid volume name: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, "+
			"at least two characters; to bind a host directory, give its absolute path", name)
	}
	return nil
}

// NewID is a random name for an anonymous volume: 64 hexadecimal digits (256
// bits from crypto/rand), as Docker names them and its containers.
func NewID() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("a random volume ID: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// idPattern is what [NewID] makes.
var idPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// IsID reports whether name has the form of a volume ID from [NewID].
func IsID(name string) bool { return idPattern.MatchString(name) }
