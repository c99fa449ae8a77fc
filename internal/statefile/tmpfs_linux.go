package statefile

import "golang.org/x/sys/unix"

// onTmpfs reports whether dir is on a tmpfs (statfs(2)), whose files do
// not outlive a reboot, so fsync buys nothing.
func onTmpfs(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && st.Type == unix.TMPFS_MAGIC
}
