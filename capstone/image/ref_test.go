package image

import "testing"

func TestParseRef(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"busybox", "busybox:latest"},
		{"unbox/busybox", "unbox/busybox:latest"},
		{"unbox/busybox:1.36", "unbox/busybox:1.36"},
		{"localhost:5000/app:1.0", "localhost:5000/app:1.0"},
		{"localhost:5000/app", "localhost:5000/app:latest"},
		{"registry.example.com/a/b__c/d-e.f:v_1", "registry.example.com/a/b__c/d-e.f:v_1"},
		{"app@sha256:" + hex64, "app@sha256:" + hex64},
		{"app:1@sha256:" + hex64, "app:1@sha256:" + hex64},
		{"Registry.Example.com/app", "Registry.Example.com/app:latest"},
	} {
		r, err := ParseRef(tc.in)
		if err != nil || r.String() != tc.want {
			t.Errorf("ParseRef(%q) = %q, %v; want %q", tc.in, r.String(), err, tc.want)
		}
	}
	for _, in := range []string{
		"", "Busybox", "busy box", "a//b", "a/", "/a", "a:", "a:-x", "a:" + string(make([]byte, 129)),
		"a@sha256:zz", "-a", "a.", "a..b", hex64, "a/B", "host:port/app",
	} {
		if r, err := ParseRef(in); err == nil {
			t.Errorf("ParseRef(%q) = %q; want an error", in, r)
		}
	}
}

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
