package kit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"

	"github.com/unboxlab/unbox/internal/reexec"
)

// Main is a lesson's whole main function: `func main() { kit.Main(run) }`.
//
// If this process is a re-exec'd child ("<program> init <stage>") it runs that
// stage and exits, before anything else happens. Otherwise it runs run with a
// context that Ctrl-C or SIGTERM cancels (so every cleanup still runs) and
// turns the result into an exit status: 0 done, 1 a step failed, 2 the lesson
// could not start (its needs table is already printed), 130 interrupted.
func Main(run RunFunc) {
	reexec.Init()
	os.Exit(mainStatus(run))
}

func mainStatus(run RunFunc) int {
	name := filepath.Base(os.Args[0])
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// A lesson whose output pipe closes (`... | head`) must still clean up:
	// with SIGPIPE handled, a write to the closed pipe fails with EPIPE
	// instead of killing the process. Handled, not ignored: an ignored
	// signal stays ignored across exec, in the shells that lessons start.
	pipes := make(chan os.Signal, 1)
	signal.Notify(pipes, syscall.SIGPIPE)
	defer signal.Stop(pipes)

	var interrupted atomic.Bool
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		for sig := range sigs {
			if sig == os.Interrupt && foreground.Load() {
				continue // the shell in the foreground handles its own Ctrl-C
			}
			if !interrupted.Swap(true) {
				fmt.Fprintf(os.Stderr, "\n%s: %v: stopping and cleaning up\n", name, sig)
				cancel()
			}
		}
	}()

	err := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	switch {
	case err == nil:
		return 0
	case IsPreflight(err):
		return 2
	case errors.As(err, new(*CheckFailedError)):
		return 1 // the verdict is printed already
	case interrupted.Load():
		if err == context.Canceled {
			fmt.Fprintf(os.Stderr, "%s: interrupted; what it had created is removed\n", name)
		} else {
			fmt.Fprintf(os.Stderr, "%s: interrupted: %v\n", name, err)
		}
		return 130
	default:
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 1
	}
}
