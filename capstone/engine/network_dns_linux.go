package engine

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/network"
	"github.com/unboxlab/unbox/internal/procfs"
	"github.com/unboxlab/unbox/internal/reexec"
	"github.com/unboxlab/unbox/internal/statefile"
)

// A user-defined network's DNS responder is this program again, "unbox
// init dns", one per network, as podman runs aardvark-dns: the engine is
// daemonless, so the responder cannot live in a CLI that exits, and one
// per network (rather than one in each container's monitor) means one
// socket on the gateway's port 53 with one owner. It runs in the host's
// network namespace on the network's gateway address (internal/network's
// DNSServer says why), reads the names from the network's endpoints.json
// as containers come and go, and forwards other names to the network's
// --dns resolvers or the host's.
//
// Its PID and start time are in <state>/networks/<name>/dns.json. Network
// create starts it; every start of a container on the network starts it
// again if it is gone (killed, or the machine rebooted); network rm stops
// it. It also ends by itself once its network is gone (a root removed
// by hand), so it can never outlive what it serves by more than a second.

func init() { reexec.Register("dns", dnsStage) }

// dnsRequest is what the engine sends the responder.
type dnsRequest struct {
	Store   string `json:"store"`
	Table   string `json:"table"`
	Network string `json:"network"`
	Info    string `json:"info"` // where to write dns.json
}

// ensureDNS starts the network's DNS responder unless it runs.
func (e *Engine) ensureDNS(n network.Network) error {
	if n.Name == DefaultNetwork {
		return nil // Docker's default network has no names
	}
	dir := e.dnsDir(n.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	unlock, err := statefile.Lock(dir)
	if err != nil {
		return err
	}
	defer unlock()
	var di dnsInfo
	if err := statefile.ReadJSON(filepath.Join(dir, "dns.json"), &di); err == nil && alive(di.Pid, di.Start) {
		return nil
	}
	s, err := e.netStore()
	if err != nil {
		return err
	}
	child := reexec.NewChild("dns")
	child.Cmd.Args[0] = "unbox"
	// A session of its own and no parent-death signal: it outlives us.
	child.Cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	logf, err := os.OpenFile(filepath.Join(dir, "dns.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	child.Cmd.Stderr = logf
	if err := child.Start(context.Background()); err != nil {
		return fmt.Errorf("start the DNS responder of network %s: %w", n.Name, err)
	}
	var ready string
	err = child.Send(dnsRequest{Store: s.Root, Table: s.Table, Network: n.Name, Info: filepath.Join(dir, "dns.json")})
	if err == nil {
		err = child.Recv(&ready)
	}
	if err != nil {
		child.Close()
		return fmt.Errorf("the DNS responder of network %s: %w", n.Name, err)
	}
	return child.Release()
}

func dnsStage(conn *reexec.Conn) error {
	var req dnsRequest
	if err := conn.Recv(&req); err != nil {
		return err
	}
	signal.Ignore(unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTTIN, unix.SIGTTOU)
	if err := os.Chdir("/"); err != nil {
		return err
	}
	s := &network.Store{Root: req.Store, Table: req.Table}
	n, err := s.Get(req.Network)
	if err != nil {
		return err
	}
	ups := n.DNSServers
	if len(ups) == 0 {
		ups, _ = network.Upstreams("/etc/resolv.conf") // none: names not ours are refused
	}
	srv := &network.DNSServer{Records: s.Records(n.Name), Upstreams: ups, Client: s.Client(n.Name, DefaultNetwork)}
	if err := srv.Listen(netip.AddrPortFrom(n.Gateway, 53).String()); err != nil {
		return fmt.Errorf("network %s: %w", n.Name, err)
	}
	st, err := procfs.ReadStat("self")
	if err != nil {
		return err
	}
	if err := statefile.WriteJSON(req.Info, dnsInfo{Pid: os.Getpid(), Start: st.StartTime}, 0o600); err != nil {
		return err
	}
	if err := conn.Send("ready"); err != nil {
		return err
	}
	conn.Close()
	// Serve until stopped, or until the network is gone or is another
	// network of the same name.
	for {
		time.Sleep(time.Second)
		now, err := s.Get(n.Name)
		if err != nil || now.ID != n.ID {
			srv.Close()
			return nil
		}
	}
}

// killWait ends the process pid that started at start, if it is alive:
// SIGTERM, then after two seconds SIGKILL, and waits until it is gone
// (it is not our child).
func killWait(pid int, start uint64) {
	if !alive(pid, start) {
		return
	}
	unix.Kill(pid, unix.SIGTERM)
	began, killed := time.Now(), false
	for alive(pid, start) && time.Since(began) < 7*time.Second {
		if !killed && time.Since(began) > 2*time.Second {
			unix.Kill(pid, unix.SIGKILL)
			killed = true
		}
		time.Sleep(5 * time.Millisecond)
	}
}
