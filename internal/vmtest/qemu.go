package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// vmConfig is one boot of the lane's VM.
type vmConfig struct {
	QEMU        string
	Kernel      *kernel
	Initramfs   string
	Mode        string // bare or systemd (see init.sh)
	KVM         bool
	CPUs        int
	MemoryMiB   int
	TestTimeout time.Duration // per test binary, inside the guest
	BootTimeout time.Duration // until /init runs; past it the boot hung
	Timeout     time.Duration // the whole boot
	LogPath     string        // the serial output, verbatim
	Echo        io.Writer     // if set, every serial line as it comes
	Progress    func(mode string, p *packageRun, r testResult)
}

// qemuArgs is the command line: a PC with no devices but the serial port
// (-nodefaults: no network card, no disk, no display), the kernel and
// initramfs handed over by QEMU itself, power-off ending QEMU
// (-no-reboot with panic=-1 turns a panic into an exit too).
//
// Software emulation (TCG) is the default and KVM only on request: where
// /dev/kvm is missing, or present but unusable (nested virtualisation that
// aborts with -cpu host or hangs with other models), a probe that can hang
// is worse than a slower boot that always works. The "pc" machine rather
// than "microvm": microvm has no PIT or HPET to calibrate the TSC against,
// and under TCG it hung in most of our boots.
func qemuArgs(c vmConfig, token string) []string {
	accel, cpu := "tcg", "max"
	if c.KVM {
		accel, cpu = "kvm", "host"
	}
	cmdline := strings.Join([]string{
		"console=ttyS0", "quiet", "panic=-1", "rdinit=/init",
		"vmtest.token=" + token, "vmtest.mode=" + c.Mode, "vmtest.timeout=" + c.TestTimeout.String(),
	}, " ")
	return []string{
		"-M", "pc", "-accel", accel, "-cpu", cpu,
		"-smp", fmt.Sprint(c.CPUs), "-m", fmt.Sprint(c.MemoryMiB),
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-serial", "stdio",
		"-kernel", c.Kernel.Image, "-initrd", c.Initramfs, "-append", cmdline,
	}
}

// boot runs the VM once, and once more if the first boot hung before
// /init started (it happens: about 1 boot in 100 under TCG).
func boot(ctx context.Context, c vmConfig, logf func(string, ...any)) *bootLog {
	b := bootOnce(ctx, c)
	if !b.Booted && errors.Is(b.HostErr, errBootHung) && ctx.Err() == nil {
		logf("%s: the VM hung before /init started (%v); booting again", c.Mode, b.HostErr)
		b = bootOnce(ctx, c)
		b.Attempts = 2
	}
	return b
}

var errBootHung = errors.New("boot hung")

func bootOnce(ctx context.Context, c vmConfig) *bootLog {
	b := &bootLog{Mode: c.Mode, Info: map[string]string{}, Start: time.Now(), Attempts: 1}
	defer func() { b.End = time.Now() }()
	token, err := randomToken()
	if err != nil {
		b.HostErr = err
		return b
	}
	logFile, err := os.Create(c.LogPath)
	if err != nil {
		b.HostErr = err
		return b
	}
	defer logFile.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.QEMU, qemuArgs(c, token)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdin = nil // /dev/null: the serial port reads nothing
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.HostErr = err
		return b
	}
	fmt.Fprintf(logFile, "$ %s %s\n", c.QEMU, strings.Join(qemuArgs(c, token), " "))
	if err := cmd.Start(); err != nil {
		b.HostErr = fmt.Errorf("start %s: %w (install qemu-system-x86)", c.QEMU, err)
		return b
	}

	sp := &serialParser{token: token, log: b, now: time.Now}
	if c.Progress != nil {
		sp.onLine = func(p *packageRun, r testResult) { c.Progress(c.Mode, p, r) }
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		r := bufio.NewReaderSize(stdout, 1<<16)
		for {
			line, err := r.ReadString('\n')
			if line != "" {
				lines <- line
			}
			if err != nil {
				return
			}
		}
	}()

	bootTimer := time.NewTimer(c.BootTimeout)
	defer bootTimer.Stop()
	timeout := time.NewTimer(c.Timeout)
	defer timeout.Stop()
	for lines != nil {
		select {
		case line, ok := <-lines:
			if !ok {
				lines = nil
				break
			}
			logFile.WriteString(line)
			if c.Echo != nil {
				io.WriteString(c.Echo, "  "+c.Mode+" | "+strings.TrimRight(line, "\r\n")+"\n")
			}
			sp.feed(line)
			if b.Booted {
				bootTimer.Stop()
			}
		case <-bootTimer.C:
			if !b.Booted {
				b.HostErr = fmt.Errorf("%w: no sign of /init after %v", errBootHung, c.BootTimeout)
				cancel()
			}
		case <-timeout.C:
			b.HostErr = fmt.Errorf("the VM ran past the %v limit (-timeout)", c.Timeout)
			cancel()
		}
	}
	err = cmd.Wait()
	if b.HostErr == nil && err != nil {
		b.HostErr = fmt.Errorf("qemu: %w\n%s", err, strings.TrimSpace(stderr.String()))
	}
	return b
}
