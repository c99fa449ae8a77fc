// Command nnp prints its effective user ID. critest's NoNewPrivs specs run
// it set-user-ID root, as user 1000: with no_new_privs the kernel ignores
// the set-user-ID bit (prctl(2), PR_SET_NO_NEW_PRIVS) and it prints 1000,
// without it 0. The stand-in for registry.k8s.io's nonewprivs image, built
// by critest_test.go.
package main

import (
	"fmt"
	"os"
)

func main() { fmt.Printf("Effective uid: %d\n", os.Geteuid()) }
