// Package registrytest starts real registries for tests: Debian's
// docker-registry (the CNCF distribution registry, what Docker Hub runs) on
// 127.0.0.1 and a free port, with a temporary config, its storage in the
// test's directory, optionally behind htpasswd or as a pull-through mirror
// of another, stopped by its PID when the test ends. Nothing leaves the
// machine. capstone/image's tests and the unbox CLI's use it.
package registrytest
