package volume

import (
	"fmt"
	"path"
	"strings"

	"github.com/unboxlab/unbox/internal/mount"
)

// Kind is what a -v flag names as its source.
type Kind int

// The three kinds of `docker run -v`.
const (
	// Bind: a host directory or file, by absolute path: -v /home:/test.
	Bind Kind = iota + 1
	// Named: a volume of the store, by name, made on first use: -v data:/test.
	Named
	// Anonymous: a new volume of the store with a random ID: -v /test.
	Anonymous
)

func (k Kind) String() string {
	switch k {
	case Bind:
		return "bind"
	case Named:
		return "volume"
	case Anonymous:
		return "anonymous volume"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Spec is one `docker run -v [SRC:]DST[:OPTS]` flag, checked.
type Spec struct {
	// Raw is the flag's value as given, for errors and narration.
	Raw  string
	Kind Kind
	// Source is the host path of a bind (absolute, clean), the name of a
	// named volume, or empty for an anonymous one.
	Source string
	// Target is where it appears in the container: absolute, clean.
	Target   string
	ReadOnly bool
	// Propagation is a bind's (mount.ParsePropagation), or 0 for
	// Docker's default, rprivate.
	Propagation uintptr
	// NoCopy leaves a new volume empty instead of filling it with the
	// image's content at Target ("nocopy").
	NoCopy bool
}

func (s Spec) String() string { return "-v " + s.Raw }

// Mounts are the mounts s makes once its source has a host directory: the
// bind source itself, or a volume's _data ([Volume.Mountpoint]).
func (s Spec) Mounts(source string) []mount.Mount {
	return mount.Bind(source, s.Target, s.ReadOnly, s.Propagation)
}

// ParseSpec reads one -v flag the way Docker's Linux parser does (moby
// volume/mounts/linux_parser.go): split at colons into DST, SRC:DST or
// SRC:DST:OPTS; a SRC that starts with / is a host path, anything else a
// volume name. OPTS is a comma-separated list of ro or rw, a propagation
// mode for a bind (rprivate, the default, rslave, rshared, ...), and
// nocopy for a volume; consistent, cached and delegated (Docker Desktop's)
// are accepted and mean nothing here. SELinux relabelling (z, Z) is refused:
// unbox does not relabel, and silently not doing it would be worse.
//
// Every error starts with the flag ("-v data/x:/data: ...") and nothing is
// looked up on disk: whether a bind source exists is [Store.Attach]'s
// check.
func ParseSpec(raw string) (Spec, error) {
	s := Spec{Raw: raw}
	fail := func(format string, args ...any) (Spec, error) {
		return Spec{}, fmt.Errorf("-v %s: %s", raw, fmt.Sprintf(format, args...))
	}
	parts := strings.Split(raw, ":")
	var opts string
	switch len(parts) {
	case 1:
		s.Kind, s.Target = Anonymous, parts[0]
	case 2:
		if strings.HasPrefix(parts[0], "/") && isOptionList(parts[1]) {
			return fail("an anonymous volume takes no options (%s); give a source: SRC:%s:%s", parts[1], parts[0], parts[1])
		}
		s.Source, s.Target = parts[0], parts[1]
	case 3:
		s.Source, s.Target, opts = parts[0], parts[1], parts[2]
	default:
		return fail("want [SRC:]DST[:OPTS], with no colon inside a path")
	}
	if err := mount.CheckTarget(s.Target); err != nil {
		return fail("%v", err)
	}
	s.Target = path.Clean(s.Target)
	switch {
	case s.Kind == Anonymous:
	case s.Source == "":
		return fail("no source before the colon: want a host path or a volume name")
	case strings.HasPrefix(s.Source, "/"):
		s.Kind, s.Source = Bind, path.Clean(s.Source)
		if strings.ContainsAny(s.Source, "\x00\n") {
			return fail("source %q holds a newline or NUL", s.Source)
		}
	default:
		if err := ValidateName(s.Source); err != nil {
			return fail("%v", err)
		}
		s.Kind = Named
	}
	if err := s.parseOptions(opts); err != nil {
		return fail("%v", err)
	}
	return s, nil
}

func (s *Spec) parseOptions(opts string) error {
	var access, propagation string
	for _, o := range strings.Split(opts, ",") {
		switch {
		case o == "":
			if opts != "" {
				return fmt.Errorf("an empty option in %q", opts)
			}
		case o == "ro" || o == "rw":
			if access != "" && access != o {
				return fmt.Errorf("both %s and %s", access, o)
			}
			access, s.ReadOnly = o, o == "ro"
		case o == "nocopy":
			if s.Kind == Bind {
				return fmt.Errorf("nocopy applies to volumes: a bind mount is never filled from the image")
			}
			s.NoCopy = true
		case o == "z" || o == "Z":
			return fmt.Errorf("%s asks for SELinux relabelling, which unbox does not do", o)
		case o == "consistent" || o == "cached" || o == "delegated":
			// Docker Desktop's file sharing hints; a Linux mount has no such thing.
		default:
			p, ok := mount.ParsePropagation(o)
			if !ok {
				return fmt.Errorf("unknown option %q: want ro, rw, nocopy, or a propagation mode (rprivate, rslave, rshared, ...)", o)
			}
			if s.Kind != Bind {
				return fmt.Errorf("propagation %s applies to bind mounts: nothing is mounted under a volume's directory on the host", o)
			}
			if propagation != "" {
				return fmt.Errorf("two propagation modes, %s and %s", propagation, o)
			}
			propagation, s.Propagation = o, p
		}
	}
	return nil
}

// isOptionList reports whether s reads as -v options rather than a path
// (Docker: "/foo:ro" is an anonymous volume with a mode, which it refuses).
func isOptionList(s string) bool {
	for _, o := range strings.Split(s, ",") {
		if _, ok := mount.ParsePropagation(o); !ok && o != "ro" && o != "rw" && o != "nocopy" && o != "z" && o != "Z" {
			return false
		}
	}
	return true
}
