//go:build linux

package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/unboxlab/unbox/capstone/engine"
	"github.com/unboxlab/unbox/internal/procfs"
)

// cycles is how many run -d / rm -f cycles TestPrivFaultKillCLI makes.
// The default, 40, takes about 15 seconds here and kills the CLI at
// every stage of both commands many times over; the 200, which
// .ci/run makes in a stage of its own, is
//
//	go test -exec sudo -run TestPrivFaultKillCLI ./capstone/cmd/unbox -args -cycles 200
var cycles = flag.Int("cycles", 40, "run -d / rm -f cycles of TestPrivFaultKillCLI, each with the CLI killed at a random point")

// TestPrivBadInput: each mistake is a clear error, exit status 125, and
// leaves nothing: no container, volume, mount or directory.
func TestPrivBadInput(t *testing.T) {
	e := newEnv(t)
	e.ok("create", "--name", "taken", "unbox/busybox", "true")
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"run", "--rm", "--pull", "never", "no/such-image", "true"}, "no such image: no/such-image:latest"},
		{[]string{"run", "--rm", "--pull", "sometimes", "unbox/busybox", "true"}, "invalid pull option: 'sometimes'"},
		{[]string{"run", "--rm", "-v", "relative/dir:/x", "unbox/busybox", "true"}, "-v relative/dir:/x"},
		{[]string{"run", "--rm", "-v", "/no/such/dir:/x", "unbox/busybox", "true"}, "/no/such/dir"},
		{[]string{"run", "--rm", "-v", "data:relative", "unbox/busybox", "true"}, "-v data:relative"},
		{[]string{"run", "--rm", "--memory", "12zz", "unbox/busybox", "true"}, "invalid size: '12zz'"},
		{[]string{"run", "--rm", "--cpus", "lots", "unbox/busybox", "true"}, "--cpus"},
		{[]string{"run", "--rm", "--tmpfs", "/t:bogus=1", "unbox/busybox", "true"}, "bogus"},
		{[]string{"run", "--rm", "--restart", "sometimes", "unbox/busybox", "true"}, "invalid restart policy"},
		{[]string{"run", "--rm", "--cap-add", "NOT_A_CAP", "unbox/busybox", "true"}, "unknown capability"},
		{[]string{"run", "--rm", "--runtime", "no-such-runtime", "unbox/busybox", "true"}, "unknown runtime"},
		{[]string{"run", "--rm", "--network", "bogus", "unbox/busybox", "true"}, "network bogus not found"},
		{[]string{"run", "--rm", "-w", "relative", "unbox/busybox", "true"}, "absolute path"},
		{[]string{"run", "--name", "taken", "unbox/busybox", "true"}, `the container name "/taken" is already in use`},
		{[]string{"run", "--name", "a/b", "unbox/busybox", "true"}, "invalid container name"},
		{[]string{"exec", "taken", "true"}, "is not running"},
		{[]string{"exec", "nosuch", "true"}, "no such container: nosuch"},
		{[]string{"rm", "nosuch"}, "no such container: nosuch"},
		{[]string{"run", "--rm", "-u", "nosuchuser", "unbox/busybox", "true"}, "unable to find user nosuchuser"},
		{[]string{"run"}, `"run" requires at least 1 argument`},
	} {
		r := e.run(tc.args...)
		if r.code != 125 || !strings.Contains(r.stderr, tc.msg) || r.stdout != "" {
			t.Errorf("unbox %v: %s; want exit 125 saying %q", tc.args, r, tc.msg)
		}
	}
	e.ok("run", "-d", "--name", "busy", "unbox/busybox", "sleep", "1000")
	if r := e.run("rm", "busy"); r.code != 125 || !strings.Contains(r.stderr, "container is running") {
		t.Errorf("rm of a running container: %s; want 125", r)
	}
	if c := e.inspect("busy"); c.State.Status != "running" {
		t.Errorf("after a refused rm: %s; want it still running", c.State.Status)
	}
	e.ok("rm", "-f", "busy")
	if ps := e.out("ps", "-a", "--format", "json"); strings.Count(ps, "\n") != 0 || !strings.Contains(ps, `"Names":"taken"`) {
		t.Errorf("ps -a after the bad input: %s; want the one container created first", ps)
	}
	if vs := e.out("volume", "ls", "-q"); vs != "" {
		t.Errorf("volumes after the bad input: %q", vs)
	}
	ents, _ := os.ReadDir(filepath.Join(e.root, "containers"))
	if len(ents) != 1 {
		t.Errorf("the containers' directory holds %v; want the one container", names(ents))
	}
	if ms := mountsUnder(e.root); len(ms) > 0 {
		t.Errorf("mounts left: %v", ms)
	}
}

// TestPrivConcurrentRuns: 20 runs at once give 20 distinct containers,
// each consistent: its own ID, name and process, running.
func TestPrivConcurrentRuns(t *testing.T) {
	e := newEnv(t)
	const n = 20
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := []string{"run", "-d", "unbox/busybox", "sleep", "1000"}
			if i%2 == 0 {
				args = []string{"run", "-d", "--name", fmt.Sprintf("c%d", i), "unbox/busybox", "sleep", "1000"}
			}
			r := e.run(args...)
			if r.code != 0 {
				t.Errorf("concurrent run %d: %s", i, r)
			}
			ids[i] = strings.TrimSpace(r.stdout)
		}()
	}
	wg.Wait()
	seen, names, pids := map[string]bool{}, map[string]bool{}, map[int]bool{}
	for i, id := range ids {
		c := e.inspect(id)
		if seen[id] || names[c.Name] || pids[c.State.Pid] {
			t.Errorf("container %d (%s, %s, pid %d) shares its ID, name or process with another", i, id, c.Name, c.State.Pid)
		}
		seen[id], names[c.Name], pids[c.State.Pid] = true, true, true
		if c.State.Status != "running" || c.State.Pid == 0 || c.ID != id {
			t.Errorf("container %d: %+v", i, c.State)
		}
		if i%2 == 0 && c.Name != fmt.Sprintf("c%d", i) {
			t.Errorf("container %d is named %s; want c%d", i, c.Name, i)
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", c.State.Pid)); err != nil {
			t.Errorf("container %d's process %d is not there", i, c.State.Pid)
		}
	}
	if got := len(strings.Fields(e.out("ps", "-q"))); got != n {
		t.Errorf("ps lists %d running containers; want %d", got, n)
	}
	// and removed at once.
	for _, id := range ids {
		wg.Add(1)
		go func() { defer wg.Done(); e.ok("rm", "-f", id) }()
	}
	wg.Wait()
	if ps := e.out("ps", "-aq"); ps != "" {
		t.Errorf("ps -aq after removing all: %q", ps)
	}
}

// TestPrivFaultKillCLI: run -d and rm -f, each killed (SIGKILL) at a
// random point, over and over; then everything left is listed by ps -a
// and goes with rm -f and system prune: no container, process, mount,
// cgroup (the leak check) or state is left.
func TestPrivFaultKillCLI(t *testing.T) {
	e := newEnv(t)
	e.ok("run", "--rm", "unbox/busybox", "true") // the built-in image, made once
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	killed := 0
	for i := range *cycles {
		name := fmt.Sprintf("fault%d", i)
		for _, args := range [][]string{
			{"run", "-d", "--name", name, "-v", "/anon", "unbox/busybox", "sleep", "1000"},
			{"rm", "-f", "-v", name},
		} {
			cmd := e.cmd(args...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(time.Duration(rng.IntN(250)) * time.Millisecond):
				cmd.Process.Signal(syscall.SIGKILL)
				<-done
				killed++
			}
		}
	}
	t.Logf("%d cycles, the CLI killed %d times", *cycles, killed)
	// Everything is accounted for: each container ps -a lists is in a
	// state rm can act on, and goes.
	var left []engine.Container
	for _, l := range strings.Split(e.out("ps", "-a", "--no-trunc", "--format", "json"), "\n") {
		if l == "" {
			continue
		}
		var p psJSON
		if err := json.Unmarshal([]byte(l), &p); err != nil {
			t.Fatal(err)
		}
		left = append(left, e.inspect(p.ID))
	}
	for _, c := range left {
		if c.State.Running && c.State.Pid != 0 {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", c.State.Pid)); err != nil {
				t.Errorf("%s is listed running with process %d, which is gone", c.Name, c.State.Pid)
			}
		}
		e.ok("rm", "-f", "-v", c.ID)
	}
	e.ok("system", "prune", "-f", "--volumes")
	if vs := e.out("volume", "ls", "-q"); vs != "" {
		t.Errorf("volumes left: %q", vs)
	}
	if ms := mountsUnder(e.root); len(ms) > 0 {
		t.Errorf("mounts left: %v", ms)
	}
}

// TestPrivMonitorKilled: a container whose monitor is killed is torn down
// by the next command, recorded as exited with 255, and removable.
func TestPrivMonitorKilled(t *testing.T) {
	e := newEnv(t)
	id := e.out("run", "-d", "--name", "orphan", "unbox/busybox", "sleep", "1000")
	c := e.waitStatus("orphan", "running")
	var mi struct{ Pid int }
	b, err := os.ReadFile(filepath.Join(e.state, "containers", id[:12], "monitor.json"))
	if err != nil || json.Unmarshal(b, &mi) != nil || mi.Pid == 0 {
		t.Fatalf("monitor.json: %s, %v", b, err)
	}
	syscall.Kill(mi.Pid, syscall.SIGKILL)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", mi.Pid)); err != nil {
			break
		}
	}
	if ps := e.out("ps", "-a"); !strings.Contains(ps, "Exited (255)") {
		t.Errorf("ps -a after the monitor was killed:\n%s\nwant Exited (255)", ps)
	}
	// Killed by the repair; its parent now is the machine's init, which
	// reaps it in its own time: a zombie meanwhile.
	if st, err := procfs.ReadStat(strconv.Itoa(c.State.Pid)); err == nil && st.State != "Z" {
		t.Errorf("the container's process %d outlived the repair (state %s)", c.State.Pid, st.State)
	}
	if ms := mountsUnder(e.root); len(ms) > 0 {
		t.Errorf("mounts left after the repair: %v", ms)
	}
	if c := e.inspect("orphan"); !strings.Contains(c.State.Error, "monitor died") {
		t.Errorf("State.Error = %q; want it to say the monitor died", c.State.Error)
	}
	e.ok("start", "orphan")
	e.waitStatus("orphan", "running")
	e.ok("rm", "-f", "orphan")
}
