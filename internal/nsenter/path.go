package nsenter

import (
	"path"
	"strings"
)

// DefaultPath is the PATH a program is looked for in when Env has none:
// runc's and Docker's default.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// searchPath lists where execve(2) should look for name: name itself if
// it holds a slash, else name in each directory of env's PATH (an empty
// entry is the working directory, as execvp(3) takes it).
func searchPath(name string, env []string) (candidates []string, inPath bool) {
	if strings.Contains(name, "/") {
		return []string{name}, false
	}
	pathVar := DefaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathVar = v
		}
	}
	for _, dir := range strings.Split(pathVar, ":") {
		if dir == "" {
			dir = "."
		}
		candidates = append(candidates, path.Join(dir, name))
	}
	return candidates, true
}
