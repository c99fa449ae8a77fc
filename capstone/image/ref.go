package image

import (
	"fmt"
	"strings"

	digest "github.com/opencontainers/go-digest"
)

// DefaultTag is the tag of a name given without one, as Docker's.
const DefaultTag = "latest"

// Ref is an image reference as `docker run` and `docker tag` take it:
// NAME[:TAG][@DIGEST]. Name is in Docker's familiar form: as written, but
// for Docker Hub's registry and its "library/" namespace, which are left
// out ("docker.io/library/busybox" is "busybox"), so that an image pulled
// by either name answers to both (FamiliarName, RemoteRef).
type Ref struct {
	Name   string
	Tag    string
	Digest digest.Digest
}

// String is the reference in its canonical form: name:tag, name@digest,
// or name:tag@digest.
func (r Ref) String() string {
	s := r.Name
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + string(r.Digest)
	}
	return s
}

// ParseRef reads a reference with Docker's grammar (distribution/reference:
// a name is an optional registry host[:port], then lower-case path
// components of letters and digits joined by ".", "_", "__" or dashes;
// a tag is at most 128 of [A-Za-z0-9_.-], not starting with . or -).
// A reference with neither tag nor digest gets the tag "latest".
func ParseRef(s string) (Ref, error) {
	bad := func(why string) (Ref, error) {
		return Ref{}, fmt.Errorf("invalid reference format %q: %s", s, why)
	}
	if s == "" {
		return bad("empty")
	}
	var r Ref
	rest := s
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		d, err := digest.Parse(rest[i+1:])
		if err != nil {
			return bad("digest: " + err.Error())
		}
		r.Digest, rest = d, rest[:i]
	}
	// A colon after the last slash starts the tag; one before it is a
	// registry's port.
	if i := strings.LastIndexByte(rest, ':'); i > strings.LastIndexByte(rest, '/') {
		r.Tag, rest = rest[i+1:], rest[:i]
		if err := checkTag(r.Tag); err != nil {
			return bad(err.Error())
		}
	}
	if err := checkName(rest); err != nil {
		return bad(err.Error())
	}
	r.Name = FamiliarName(rest) // docker.io/library/busybox is busybox (refs.go)
	if r.Tag == "" && r.Digest == "" {
		r.Tag = DefaultTag
	}
	return r, nil
}

func checkTag(t string) error {
	if t == "" || len(t) > 128 {
		return fmt.Errorf("a tag has 1 to 128 characters")
	}
	for i, c := range t {
		ok := c == '_' || isAlnum(c) || c >= 'A' && c <= 'Z' || (i > 0 && (c == '.' || c == '-'))
		if !ok {
			return fmt.Errorf("tag %q: letters, digits, _ . and - only, not starting with . or -", t)
		}
	}
	return nil
}

func checkName(n string) error {
	if n == "" {
		return fmt.Errorf("empty name")
	}
	if len(n) > 255 {
		return fmt.Errorf("a name has at most 255 characters")
	}
	comps := strings.Split(n, "/")
	if len(comps) > 1 && isDomain(comps[0]) {
		comps = comps[1:]
	}
	for _, c := range comps {
		if err := checkComponent(c); err != nil {
			return err
		}
	}
	if len(comps) == 1 && isHexID(comps[0]) && len(comps[0]) == 64 {
		return fmt.Errorf("a name cannot be 64 hexadecimal digits (that is an image ID)")
	}
	return nil
}

// isDomain reports whether the first component of a name is a registry, as
// Docker decides it: it holds a dot or a port, or is localhost.
func isDomain(c string) bool {
	if !strings.ContainsAny(c, ".:") && c != "localhost" {
		return false
	}
	host, port, hasPort := strings.Cut(c, ":")
	if hasPort {
		if port == "" {
			return false
		}
		for _, d := range port {
			if d < '0' || d > '9' {
				return false
			}
		}
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, d := range label {
			if !isAlnum(d) && !(d >= 'A' && d <= 'Z') && d != '-' {
				return false
			}
		}
	}
	return true
}

// checkComponent checks one path component: [a-z0-9]+ joined by one
// separator at a time: ".", "_", "__", or any number of "-".
func checkComponent(c string) error {
	bad := fmt.Errorf("name component %q: lower-case letters and digits, joined by '.', '_', '__' or '-'", c)
	if c == "" || !isAlnum(rune(c[0])) || !isAlnum(rune(c[len(c)-1])) {
		return bad
	}
	for i := 0; i < len(c); {
		if isAlnum(rune(c[i])) {
			i++
			continue
		}
		j := i
		for j < len(c) && !isAlnum(rune(c[j])) {
			j++
		}
		sep := c[i:j]
		if sep != "." && sep != "_" && sep != "__" && strings.Trim(sep, "-") != "" {
			return bad
		}
		i = j
	}
	return nil
}

func isAlnum(c rune) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// isHexID reports whether s could be an ID or a prefix of one: lower-case
// hexadecimal digits.
func isHexID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
