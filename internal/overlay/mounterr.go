package overlay

import (
	"errors"
	"syscall"
)

// MountHint says what usually makes mount(2) of an overlay fail with err,
// and what to do, as a phrase to append to the error ("" when it knows
// nothing to add). overlayfs logs the precise reason to the kernel log, so
// the hints point there.
func MountHint(err error) string {
	switch {
	case errors.Is(err, syscall.EINVAL):
		return " (overlayfs refused its options; `dmesg | grep overlay` says why: usually an upper dir on a " +
			"filesystem without trusted.* xattrs or d_type, such as NFS or another overlay, a workdir on another " +
			"filesystem than the upperdir, or one of them inside the other)"
	case errors.Is(err, syscall.ENOENT):
		return " (a lower, upper or work directory does not exist)"
	case errors.Is(err, syscall.EBUSY):
		return " (the upper or work dir is in use by another overlay mount: each union needs its own " +
			"(overlayfs.rst, \"Sharing and copying layers\"))"
	case errors.Is(err, syscall.ENODEV):
		return " (the kernel has no overlayfs: sudo modprobe overlay, or a kernel with CONFIG_OVERLAY_FS)"
	case errors.Is(err, syscall.EPERM):
		return " (mounting needs CAP_SYS_ADMIN: run as root)"
	}
	return ""
}
