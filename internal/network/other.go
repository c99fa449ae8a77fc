//go:build !linux

package network

import "errors"

// On other systems the package has its pure parts (plans and their
// commands, rules, ports, subnets and leases, the DNS responder); everything
// that touches the kernel is Linux-only.

// ErrNeedsLinux is what the parts of this package that touch the kernel
// return on other systems.
var ErrNeedsLinux = errors.New("unbox needs Linux: use the Vagrant VM (see README.md)")

// CreateNetNS needs Linux.
func CreateNetNS(*NetNS) error { return ErrNeedsLinux }

// DeleteNetNS needs Linux.
func DeleteNetNS(*NetNS) error { return ErrNeedsLinux }
