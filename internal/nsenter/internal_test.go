package nsenter

import (
	"slices"
	"syscall"
	"testing"
)

func TestSearchPath(t *testing.T) {
	for _, c := range []struct {
		name   string
		env    []string
		want   []string
		inPath bool
	}{
		{"sh", []string{"PATH=/usr/bin:/bin"}, []string{"/usr/bin/sh", "/bin/sh"}, true},
		{"sh", nil, []string{"/usr/local/sbin/sh", "/usr/local/bin/sh", "/usr/sbin/sh", "/usr/bin/sh", "/sbin/sh", "/bin/sh"}, true},
		{"sh", []string{"PATH=:/bin"}, []string{"sh", "/bin/sh"}, true}, // an empty entry is the working directory
		{"/bin/sh", []string{"PATH=/usr/bin"}, []string{"/bin/sh"}, false},
		{"./run", nil, []string{"./run"}, false},
	} {
		got, inPath := searchPath(c.name, c.env)
		if !slices.Equal(got, c.want) || inPath != c.inPath {
			t.Errorf("searchPath(%q, %q) = %q, %v; want %q, %v", c.name, c.env, got, inPath, c.want, c.inPath)
		}
	}
}

func TestExitStatus(t *testing.T) {
	for _, c := range []struct {
		st   ExitStatus
		code int
		text string
	}{
		{ExitStatus{}, 0, "exit status 0"},
		{ExitStatus{Code: 3}, 3, "exit status 3"},
		{ExitStatus{Signal: syscall.SIGKILL}, 137, "killed by SIGKILL"},
	} {
		if c.st.ExitCode() != c.code || c.st.String() != c.text {
			t.Errorf("%#v: ExitCode() = %d, String() = %q; want %d, %q", c.st, c.st.ExitCode(), c.st.String(), c.code, c.text)
		}
	}
}

func TestStartErrorCodes(t *testing.T) {
	for _, c := range []struct {
		err  *StartError
		code int
		text string
	}{
		{&StartError{Op: `exec "x"`, Err: syscall.ENOENT, NotFound: true, InPath: true}, 127, `exec "x": executable file not found in $PATH`},
		{&StartError{Op: `exec "/x"`, Err: syscall.ENOENT, NotFound: true}, 127, `exec "/x": no such file or directory`},
		{&StartError{Op: `exec "/etc"`, Err: syscall.EACCES}, 126, `exec "/etc": permission denied`},
		{&StartError{Op: "chdir /srv", Err: syscall.ENOENT}, 126, "chdir /srv: no such file or directory"},
	} {
		if c.err.ExitCode() != c.code || c.err.Error() != c.text {
			t.Errorf("%#v: ExitCode() = %d, Error() = %q; want %d, %q", c.err, c.err.ExitCode(), c.err.Error(), c.code, c.text)
		}
	}
}
