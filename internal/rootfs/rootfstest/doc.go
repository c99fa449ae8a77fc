// Package rootfstest builds hostile root filesystems for the tests of
// anything that enters one: a runtime must resolve every path inside the
// root, and these roots punish one that does not. internal/mount's tests use
// it (TestPrivHostileRootStaysInside); the capstone's runtime tests will
// enter the same roots through `unbox-runtime create`.
package rootfstest
