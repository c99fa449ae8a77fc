package container

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/cgroups"
	"github.com/unboxlab/unbox/internal/mount"
	"github.com/unboxlab/unbox/internal/reexec"
)

// CreateOpts are what `create` (and `run`) know besides the config.
type CreateOpts struct {
	// Root is the state directory of all containers (--root).
	Root   string
	ID     string
	Bundle string
	Config *Config
	// PIDFile, if set, gets the init's PID once it is ready (--pid-file).
	PIDFile string
	// ConsoleSocket is the caller's Unix socket that gets the terminal's
	// master (--console-socket); required when Config.Process.Terminal,
	// unless the caller takes the master itself (Prepared.Console).
	ConsoleSocket string
	// PreserveFDs passes this process's descriptors 3 to 3+N-1 to the
	// container's process, as 3, 4, ... (--preserve-fds).
	PreserveFDs int
	// Stdio of the container's process; nil is this process's own.
	Stdin, Stdout, Stderr *os.File
}

// Prepared is a container whose init waits for start, still this process's
// child: `run` starts it and waits for it; `create` lets it go.
type Prepared struct {
	*Container
	// Console is the terminal's master, when a terminal was asked for
	// without a console socket.
	Console  *os.File
	child    *reexec.Child
	conn     bool // the socket is still open: the init waits for "go"
	pidSaved bool // the record on disk names the init
}

// Create makes the container and leaves its init waiting for start,
// reparented to the caller's subreaper once this process exits.
func Create(ctx context.Context, o CreateOpts) (*Container, error) {
	if o.Config.Process.Terminal && o.ConsoleSocket == "" {
		return nil, errors.New("a terminal is asked for (process.terminal), and nobody would hold it: pass --console-socket")
	}
	cr, err := create(ctx, o)
	if err != nil {
		return nil, err
	}
	if err := cr.goOn(o, true); err != nil {
		return nil, errors.Join(err, cr.destroy())
	}
	return cr.Container, cr.child.Release()
}

// Prepare makes the container as Create does, but keeps its init as this
// process's child: [Prepared.Start] then [Prepared.Wait] (`run`).
func Prepare(ctx context.Context, o CreateOpts) (*Prepared, error) {
	cr, err := create(ctx, o)
	if err != nil {
		return nil, err
	}
	if err := cr.goOn(o, false); err != nil {
		return nil, errors.Join(err, cr.destroy())
	}
	return cr, nil
}

// goOn tells the ready init to go on to wait for start, then records it as
// created and writes the --pid-file. The order saves the init a wait: a
// create interrupted between the two leaves a record without the init's PID,
// and delete still finds the init, in the cgroup the record names.
func (cr *Prepared) goOn(o CreateOpts, detached bool) error {
	st := cr.stateAs(Created)
	if err := cr.child.Send(parentReply{Go: true, Detached: detached, State: &st}); err != nil {
		return err
	}
	cr.conn = false
	// run stays the init's parent and its creator: a record that names
	// the init already (cgroup v1 saves it after the clone) is right as
	// it is, and the status reads "running" once started.
	if detached || !cr.pidSaved {
		cr.rec.CreatorPid, cr.rec.CreatorStart = 0, 0
		if err := cr.save(); err != nil {
			return err
		}
	}
	if o.PIDFile != "" {
		return writePIDFile(o.PIDFile, cr.rec.InitPid)
	}
	return nil
}

// create is everything up to the init's "ready": on failure nothing is
// left, neither process nor cgroup nor state.
func create(ctx context.Context, o CreateOpts) (_ *Prepared, err error) {
	if err := checkID(o.ID); err != nil {
		return nil, err
	}
	cfg := o.Config
	if err := os.MkdirAll(o.Root, 0o700); err != nil {
		return nil, fmt.Errorf("state directory %s: %w", o.Root, err)
	}
	dir := filepath.Join(o.Root, o.ID)
	if err := os.Mkdir(dir, 0o711); errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%s: %w", o.ID, ErrExist)
	} else if err != nil {
		return nil, fmt.Errorf("state directory %s: %w", dir, err)
	}
	c := &Container{ID: o.ID, Root: o.Root, dir: dir}
	cr := &Prepared{Container: c}
	defer func() {
		if err != nil {
			err = errors.Join(err, cr.destroy())
		}
	}()
	unlock, err := c.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	self, err := startTime(os.Getpid())
	if err != nil {
		return nil, err
	}
	c.rec = record{ID: o.ID, Bundle: o.Bundle, Created: time.Now().UTC(), CreatorPid: os.Getpid(), CreatorStart: self, Config: cfg}
	// 0622: the init writes it once it is the container's user, whoever
	// that is; chmod, since mkfifo(3) applies the umask.
	fifo := filepath.Join(dir, fifoName)
	if err := unix.Mkfifo(fifo, 0o622); err != nil {
		return nil, fmt.Errorf("mkfifo %s: %w", fifo, err)
	}
	if err := os.Chmod(fifo, 0o622); err != nil {
		return nil, err
	}
	mgr, host, err := cgroupManager(cfg.Cgroup)
	if err != nil {
		return nil, err
	}
	req, err := initRequestFor(o, mgr, host)
	if err != nil {
		return nil, err
	}
	files, err := cr.childFiles(o, req)
	// The child has its copies once started; the preserved descriptors
	// are the caller's.
	defer closeAll(files[:len(files)-min(len(files), o.PreserveFDs)])
	if err != nil {
		return nil, err
	}
	// The record comes before the cgroup, so that whatever interrupts
	// create leaves a record that names the cgroup to remove.
	makeCgroup := func() error {
		if err := c.save(); err != nil {
			return err
		}
		cr.pidSaved = c.rec.InitPid != 0
		if err := makeCgroupDirs(mgr); err != nil {
			return err
		}
		return mgr.Set(cfg.Cgroup.Resources)
	}
	if host.Mode.V2() {
		// The init is cloned into its cgroup (CLONE_INTO_CGROUP): the
		// cgroup must exist first.
		if err := makeCgroup(); err != nil {
			return nil, err
		}
		if err := cr.startInit(ctx, o, cfg, mgr, files); err != nil {
			return nil, err
		}
	} else {
		// cgroup v1 has nothing to clone into (internal/cgroups' Start
		// moves the process in after it starts, as here): the init
		// starts first and waits for its request, blocked on the socket,
		// while its Go runtime starts and this process makes the record
		// and the cgroup and moves it in. Nothing of the container is
		// done outside the cgroup.
		if err := cr.startInit(ctx, o, cfg, nil, files); err != nil {
			return nil, err
		}
		if err := makeCgroup(); err != nil {
			return nil, err
		}
		if err := mgr.Apply(cr.rec.InitPid); err != nil {
			return nil, fmt.Errorf("move the init into %s: %w", mgr.Path(), err)
		}
	}
	if err := cr.child.Send(req); err != nil {
		return nil, err
	}
	if err := cr.handshake(ctx, req); err != nil {
		return nil, err
	}
	if cr.Console != nil {
		// The init sent the terminal's master before "ready".
		if cr.Console, err = takeConsole(cr.Console); err != nil {
			return nil, err
		}
	}
	return cr, nil
}

// initRequestFor is the init's request: the config, with the mounts
// expanded for this host.
func initRequestFor(o CreateOpts, mgr cgroups.Manager, host *cgroups.Host) (*initRequest, error) {
	cfg := o.Config
	req := &initRequest{ID: o.ID, Config: cfg, PreserveFDs: o.PreserveFDs, Fifo: true}
	ms, devFromHost, err := expandMounts(cfg, func(m Mount) ([]mount.Mount, error) {
		_, cgroupns := cfg.namespace("cgroup")
		return cgroupMounts(m, mgr, host, cgroupns)
	})
	if err != nil {
		return nil, err
	}
	req.Mounts = ms
	req.Links = comountLinks(cfg, ms)
	req.MakeDevices = !devFromHost
	req.BindDevices = cfg.HasNamespace("user")
	h := cfg.Hooks
	req.Hooks = len(h.Prestart)+len(h.CreateRuntime)+len(h.CreateContainer) > 0
	_, ownMountNS := cfg.namespace("mount")
	req.FreshMountNS = ownMountNS && !joins(cfg, "mount")
	return req, nil
}

func joins(cfg *Config, typ string) bool {
	ns, ok := cfg.namespace(typ)
	return ok && ns.Path != ""
}

// childFiles are the init's descriptors from 4 on (protocol_linux.go).
func (cr *Prepared) childFiles(o CreateOpts, req *initRequest) ([]*os.File, error) {
	exe, err := sealedExe()
	if err != nil {
		return nil, err
	}
	files := []*os.File{exe}
	fd, err := unix.Open(filepath.Join(cr.dir, fifoName), unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return files, fmt.Errorf("open %s: %w", fifoName, err)
	}
	files = append(files, os.NewFile(uintptr(fd), fifoName))
	cgroupNS := exe
	if ns, ok := o.Config.namespace("cgroup"); ok && ns.Path != "" {
		if cgroupNS, err = os.Open(ns.Path); err != nil {
			return files, fmt.Errorf("open the cgroup namespace: %w", err)
		}
		req.JoinCgroupNS = true
	}
	files = append(files, cgroupNS)
	if o.Config.Process.Terminal {
		req.Console = true
		var sock *os.File
		if o.ConsoleSocket != "" {
			sock, err = dialConsole(o.ConsoleSocket)
		} else {
			cr.Console, sock, err = consolePair()
		}
		if err != nil {
			return files, err
		}
		files = append(files, sock)
	}
	for i := 0; i < o.PreserveFDs; i++ {
		files = append(files, os.NewFile(uintptr(3+i), "preserved-"+strconv.Itoa(3+i)))
	}
	return files, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// startInit starts "unbox-runtime init container" in its namespaces, in its
// cgroup when mgr is given, and records its PID.
func (cr *Prepared) startInit(ctx context.Context, o CreateOpts, cfg *Config, mgr cgroups.Manager, files []*os.File) error {
	start := func(cgroupFD int) (int, error) {
		child := reexec.NewChild("container")
		child.Cmd.Path = "/proc/self/fd/" + strconv.Itoa(exeFD)
		child.Cmd.Env = childEnv(child.Cmd.Env)
		child.Cmd.Stdin, child.Cmd.Stdout, child.Cmd.Stderr = orStd(o.Stdin, os.Stdin), orStd(o.Stdout, os.Stdout), orStd(o.Stderr, os.Stderr)
		child.Cmd.ExtraFiles = files
		attr := &syscall.SysProcAttr{Cloneflags: newNamespaces(cfg)}
		if cfg.HasNamespace("user") {
			attr.UidMappings = idMaps(cfg.UIDMappings)
			attr.GidMappings = idMaps(cfg.GIDMappings)
			attr.GidMappingsEnableSetgroups = true
			// Once the maps are written, become the namespace's root:
			// the host's root is not mapped in it, and an unmapped user
			// (the overflow UID, 65534) has no capabilities after exec.
			attr.Credential = &syscall.Credential{Uid: 0, Gid: 0}
		}
		if cgroupFD >= 0 {
			attr.UseCgroupFD, attr.CgroupFD = true, cgroupFD
		}
		child.Cmd.SysProcAttr = attr
		err := joinThenStart(parentJoins(cfg), func() error { return child.Start(ctx) })
		if err != nil {
			return 0, err
		}
		cr.child = child
		return child.Pid(), nil
	}
	var err error
	if mgr != nil {
		_, err = cgroups.Start(mgr, start)
	} else {
		_, err = start(-1)
	}
	if err != nil {
		return fmt.Errorf("start the container's init: %w", err)
	}
	st, err := startTime(cr.child.Pid())
	if err != nil {
		return fmt.Errorf("start the container's init: %w", err)
	}
	cr.rec.InitPid, cr.rec.InitStart = cr.child.Pid(), st
	return nil
}

// childEnv is the environment of the init or an exec'd process before its
// exec (which replaces it): one P for the Go runtime (GOMAXPROCS=1). The
// child does one thing at a time, and starting the runtime with fewer
// threads, without reading the cgroup's CPU limit to size it, is measurably
// quicker (about 2 ms a process on the bench's machine).
func childEnv(env []string) []string {
	return append(env, "GOMAXPROCS=1")
}

func orStd(f, std *os.File) *os.File {
	if f != nil {
		return f
	}
	return std
}

func idMaps(ms []IDMap) []syscall.SysProcIDMap {
	var out []syscall.SysProcIDMap
	for _, m := range ms {
		out = append(out, syscall.SysProcIDMap{ContainerID: m.ContainerID, HostID: m.HostID, Size: m.Size})
	}
	return out
}

// handshake answers the init until it is ready: the runtime's hooks, if
// any, then "ready".
func (cr *Prepared) handshake(ctx context.Context, req *initRequest) error {
	for {
		var m childMessage
		if err := cr.child.Recv(&m); err != nil {
			return err
		}
		switch m.Stage {
		case "hooks":
			st := cr.stateAs(Creating)
			h := req.Config.Hooks
			if err := runHooks(ctx, "prestart", h.Prestart, st); err != nil {
				return err
			}
			if err := runHooks(ctx, "createRuntime", h.CreateRuntime, st); err != nil {
				return err
			}
			if err := cr.child.Send(parentReply{State: &st}); err != nil {
				return err
			}
		case "ready":
			cr.conn = true
			return nil
		default:
			return fmt.Errorf("the init says %q, which this runtime does not know", m.Stage)
		}
	}
}

// destroy undoes a create that failed: the init killed and reaped, the
// cgroup and the state directory removed.
func (cr *Prepared) destroy() error {
	var errs []error
	if cr.child != nil {
		cr.child.Close()
	}
	if cfg := cr.rec.Config; cfg != nil {
		if err := destroyCgroup(cfg.Cgroup); err != nil {
			errs = append(errs, err)
		}
	}
	if cr.Console != nil {
		cr.Console.Close()
	}
	if err := os.RemoveAll(cr.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// writePIDFile writes pid to path atomically, as runc does: conmon and
// containerd's shim read it as soon as create returns.
func writePIDFile(path string, pid int) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if err := writeAtomic(abs, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("write --pid-file %s: %w", path, err)
	}
	return nil
}
