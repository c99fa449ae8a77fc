//go:build !solution

package kittest

// Solution is true in a build with the tag "solution", in which the lessons'
// exercises are the reference solutions instead of the stubs.
const Solution = false
