package image

import (
	"fmt"
	"strings"
)

// PullPolicy is when an image is pulled before it is used: the --pull of
// `run`, `create` and `build` (Store.Ensure).
type PullPolicy string

// The policies. Docker's run and create take always, missing and never;
// podman's (containers/common's PullPolicy, and `podman build --pull`)
// add newer, and true and false for always and never.
const (
	// PullMissing pulls an image that is not here (the default).
	PullMissing PullPolicy = "missing"
	// PullAlways pulls in any case: an image that is up to date moves
	// no layer, one the registry has changed is replaced by the new one.
	PullAlways PullPolicy = "always"
	// PullNever uses the image here, or fails with ErrNotFound.
	PullNever PullPolicy = "never"
	// PullNewer pulls as always, but a pull that fails uses the image
	// here if there is one (podman: "pull errors are suppressed if a
	// local image was found").
	PullNewer PullPolicy = "newer"
)

// ParsePullPolicy reads a --pull value as podman reads it, which is a
// superset of Docker's: always, missing, never and newer (case aside),
// true for always (a bare `build --pull`, Docker's boolean) and false for
// never (podman-build(1)), and the Kubernetes-style spellings ifmissing,
// ifnotpresent and ifnewer. "" is missing.
func ParsePullPolicy(s string) (PullPolicy, error) {
	switch strings.ToLower(s) {
	case "", "missing", "ifmissing", "ifnotpresent":
		return PullMissing, nil
	case "always", "true":
		return PullAlways, nil
	case "never", "false":
		return PullNever, nil
	case "newer", "ifnewer":
		return PullNewer, nil
	}
	return "", fmt.Errorf(`invalid pull option: '%s': must be one of "always", "missing" or "never" (or podman's "newer", "true", "false")`, s)
}
