//go:build linux

package specconv

import (
	"fmt"
	"strings"
)

// ipcSysctls are the kernel.* sysctls that belong to the IPC namespace
// (ipc_namespaces(7)); fs.mqueue.* do too.
var ipcSysctls = map[string]bool{
	"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true, "kernel.sem": true,
	"kernel.shmall": true, "kernel.shmmax": true, "kernel.shmmni": true, "kernel.shm_rmid_forced": true,
}

// checkSysctl refuses a sysctl that the container's namespaces do not
// isolate: writing it would change the host (runc's validator does the
// same).
func checkSysctl(key string, has func(ns string) bool) error {
	k := strings.ReplaceAll(key, "/", ".")
	switch {
	case ipcSysctls[k] || strings.HasPrefix(k, "fs.mqueue."):
		if has("ipc") {
			return nil
		}
		return fmt.Errorf("linux.sysctl %q needs an IPC namespace (linux.namespaces)", key)
	case strings.HasPrefix(k, "net."):
		if has("network") {
			return nil
		}
		return fmt.Errorf("linux.sysctl %q needs a network namespace (linux.namespaces)", key)
	case k == "kernel.hostname" || k == "kernel.domainname":
		if has("uts") {
			return nil
		}
		return fmt.Errorf("linux.sysctl %q needs a UTS namespace (linux.namespaces)", key)
	}
	return fmt.Errorf("linux.sysctl %q is not namespaced: setting it would change the host", key)
}
