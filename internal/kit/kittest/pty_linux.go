package kittest

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"

	"golang.org/x/sys/unix"
)

// RunOnTerminal runs cmd with its stdout and stderr on a new pseudo-terminal
// and returns what it wrote there, for tests of behaviour that depends on
// "is this a terminal" (colour). Standard input is /dev/null.
func RunOnTerminal(t testing.TB, cmd *exec.Cmd) (string, error) {
	t.Helper()
	// pty(7): open the multiplexer, unlock the new terminal, open its end.
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	defer master.Close()
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pts: %v", err)
	}
	cmd.Stdout, cmd.Stderr = tty, tty
	if err := cmd.Start(); err != nil {
		tty.Close()
		return "", err
	}
	tty.Close() // the child has it; reading ends (EIO) when the child is done
	var out bytes.Buffer
	_, _ = io.Copy(&out, master)
	return out.String(), cmd.Wait()
}
