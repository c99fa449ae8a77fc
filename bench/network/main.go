//go:build linux

// Command network measures what unbox's networking costs, in one run:
//
//	go run -exec sudo ./bench/network                 # 10 transfers of 256 MiB, 20 rounds of run -d
//	go run -exec sudo ./bench/network -size 512 -transfers 20 -rounds 40
//
// Two measures.
//
// Throughput of a published port: a TCP transfer of -size MiB from this
// process to a sink, timed from the connect to the sink's answer that it
// has every byte. Three paths, taking turns in an order that rotates from
// round to round: the sink on the host's 127.0.0.1 (loopback, no NAT, the
// baseline); the sink in a container started with `unbox run -d -p
// HOSTPORT:9000`, reached on 127.0.0.1:HOSTPORT (nftables DNAT in output,
// route_localnet, masquerade: what users of -p get); and the same
// container reached on its own address on the bridge (veth and bridge,
// no NAT), which tells the NAT's share from the veth's. The sink is the
// same Go program on both sides, this bench itself built static and
// bind-mounted into the container, reading 256 KiB at a time: what is
// timed is the path, not busybox's nc.
//
// Start-up: `unbox run -d` of a sleeping container three ways, taking
// turns: --network none, the default bridge network, and the bridge with
// -p HOSTPORT:80 (a free port each time). Each is removed after it is
// timed, untimed. The sink's container keeps the default network up, so
// the bridge and its table are made once, not at every start. The
// difference of the medians is what -p adds (its DNAT rules, the port
// check, route_localnet).
//
// unbox keeps everything in the bench's directory (--root, --state): its
// bridge and nftables table carry names hashed from that root (ubx…,
// unbox-…), so the machine's own are never touched. The bench lists ubx*
// links and unbox* tables before and after, and fails if it left one.
//
// podman is not a peer here: its network backend on this Debian (CNI,
// podman 4.3) makes a bridge cni-podman0 and iptables chains (CNI-*) in
// the shared nat and filter tables, outside the ubx/unbox names the
// project may create.
package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/nftables"

	"github.com/unboxlab/unbox/bench/internal/benchutil"
	"github.com/unboxlab/unbox/internal/network"
)

func main() {
	// The sink, run by the bench on the host and inside the container.
	if len(os.Args) == 3 && os.Args[1] == "sink" {
		// It serves until it is killed, or fails.
		fmt.Fprintln(os.Stderr, "sink:", sink(os.Args[2], os.Stdout))
		os.Exit(1)
	}
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

const (
	image     = "unbox/busybox"
	sinkPort  = 9000 // the sink's port inside the container
	sinkName  = "unbox-bench-net-sink"
	chunkSize = 1 << 20   // what the sender writes at a time
	readSize  = 256 << 10 // what the sink reads at a time
)

// path is one way to the sink, with its samples (MiB/s).
type path struct {
	name string
	addr string
	mibs []float64
}

// variant is one way of `unbox run -d`, with its samples.
type variant struct {
	name  string
	opts  func() ([]string, error)
	times []time.Duration
}

func run(args []string, stdout io.Writer) error {
	fl := flag.NewFlagSet("bench", flag.ContinueOnError)
	size := fl.Int("size", 256, "MiB per transfer")
	transfers := fl.Int("transfers", 10, "rounds of transfers; each round sends -size MiB on every path once")
	rounds := fl.Int("rounds", 20, "rounds of run -d; each starts one container of each variant")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("containers and their networks need root: go run -exec sudo ./bench/network")
	}
	before, err := ourObjects()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "unbox-bench-network-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	fmt.Fprintln(stdout, "building unbox and the sink (CGO_ENABLED=0 -tags urfave_cli_no_docs)...")
	bin := filepath.Join(work, "unbox")
	if err := benchutil.Build(bin, "./capstone/cmd/unbox"); err != nil {
		return err
	}
	// The sink runs in a busybox container, which has no libc: a static
	// build of this bench, in a directory of its own to bind-mount.
	sinkDir := filepath.Join(work, "sink")
	if err := os.Mkdir(sinkDir, 0o755); err != nil {
		return err
	}
	if err := benchutil.Build(filepath.Join(sinkDir, "bench"), "./bench/network"); err != nil {
		return err
	}
	u := unbox{bin, filepath.Join(work, "root"), filepath.Join(work, "state")}
	var names []string // every container made, removed at the end
	defer func() {
		if len(names) > 0 {
			u.cmd(append([]string{"rm", "-f"}, names...)...)
		}
		u.cmd("network", "prune", "-f")
	}()

	// The host's sink, on loopback.
	host := exec.Command(filepath.Join(sinkDir, "bench"), "sink", "127.0.0.1:0")
	out, err := host.StdoutPipe()
	if err != nil {
		return err
	}
	host.Stderr = os.Stderr
	if err := host.Start(); err != nil {
		return err
	}
	defer func() { _ = host.Process.Kill(); _ = host.Wait() }()
	line := make([]byte, 64)
	n, err := out.Read(line)
	if err != nil {
		return fmt.Errorf("the host's sink: %w", err)
	}
	hostAddr := strings.TrimSpace(string(line[:n]))

	// The container's sink, published.
	fmt.Fprintln(stdout, "starting the sink's container (unbox run -d -p)...")
	hostPort, err := freePort()
	if err != nil {
		return err
	}
	names = append(names, sinkName)
	if _, err := u.cmd("run", "-d", "--name", sinkName, "-p", fmt.Sprintf("%d:%d", hostPort, sinkPort),
		"-v", sinkDir+":/bench:ro", image, "/bench/bench", "sink", fmt.Sprintf(":%d", sinkPort)); err != nil {
		return err
	}
	ctrAddr, err := u.address(sinkName)
	if err != nil {
		return err
	}
	paths := []*path{
		{name: "loopback, no NAT (host sink on 127.0.0.1)", addr: hostAddr},
		{name: "published port (127.0.0.1:HOSTPORT, DNAT)", addr: fmt.Sprintf("127.0.0.1:%d", hostPort)},
		{name: "container address (bridge, no NAT)", addr: net.JoinHostPort(ctrAddr, strconv.Itoa(sinkPort))},
	}
	total := int64(*size) << 20
	for _, p := range paths {
		if err := waitFor(p.addr); err != nil {
			return err
		}
		if _, err := transfer(p.addr, 16<<20); err != nil { // warm-up
			return fmt.Errorf("%s: %w", p.addr, err)
		}
	}

	benchutil.PrintMachine(stdout)
	fmt.Fprintf(stdout, "unbox:   %s (built-in runtime), default bridge network\n", u.version())

	for r := 0; r < *transfers; r++ {
		for i := range paths {
			p := paths[(i+r)%len(paths)]
			d, err := transfer(p.addr, total)
			if err != nil {
				return fmt.Errorf("%s: %w", p.addr, err)
			}
			p.mibs = append(p.mibs, float64(*size)/d.Seconds())
		}
	}

	variants := []*variant{
		{name: "run -d --network none", opts: func() ([]string, error) { return []string{"--network", "none"}, nil }},
		{name: "run -d (bridge)", opts: func() ([]string, error) { return nil, nil }},
		{name: "run -d -p HOSTPORT:80 (bridge)", opts: func() ([]string, error) {
			p, err := freePort()
			return []string{"-p", fmt.Sprintf("%d:80", p)}, err
		}},
	}
	for r := 0; r < *rounds; r++ {
		for i := range variants {
			v := variants[(i+r)%len(variants)]
			opts, err := v.opts()
			if err != nil {
				return err
			}
			name := fmt.Sprintf("unbox-bench-net-%d-%d", r, (i+r)%len(variants))
			names = append(names, name)
			args := append(append([]string{"run", "-d", "--name", name}, opts...), image, "sleep", "600")
			start := time.Now()
			if _, err := u.cmd(args...); err != nil {
				return err
			}
			v.times = append(v.times, time.Since(start))
			if _, err := u.cmd("rm", "-f", name); err != nil {
				return err
			}
			names = names[:len(names)-1]
		}
		if (r+1)%10 == 0 {
			fmt.Fprintf(stdout, "  %d rounds of run -d done\n", r+1)
		}
	}
	report(stdout, paths, variants, *size, *transfers, *rounds)

	if _, err := u.cmd("rm", "-f", sinkName); err != nil {
		return err
	}
	names = nil
	if _, err := u.cmd("network", "prune", "-f"); err != nil {
		return err
	}
	after, err := ourObjects()
	if err != nil {
		return err
	}
	for o := range after {
		if !before[o] {
			return fmt.Errorf("the bench left %s behind", o)
		}
	}
	return nil
}

// unbox is the engine, with the bench's root and state.
type unbox struct{ bin, root, state string }

// cmd runs unbox with args and returns its standard output.
func (u unbox) cmd(args ...string) (string, error) {
	all := append([]string{"--root", u.root, "--state", u.state}, args...)
	c := exec.Command(u.bin, all...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		return out.String(), fmt.Errorf("unbox %s: %v\n%s%s", strings.Join(all, " "), err, out.String(), errb.String())
	}
	return out.String(), nil
}

func (u unbox) version() string {
	out, _ := u.cmd("--version")
	return strings.SplitN(strings.TrimSpace(out), "\n", 2)[0]
}

// address is the container's address on its network, from inspect.
func (u unbox) address(name string) (string, error) {
	out, err := u.cmd("inspect", name)
	if err != nil {
		return "", err
	}
	var recs []struct{ NetworkSettings struct{ IPAddress string } }
	if err := json.Unmarshal([]byte(out), &recs); err != nil || len(recs) != 1 || recs[0].NetworkSettings.IPAddress == "" {
		return "", fmt.Errorf("unbox inspect %s: no address (%v)\n%s", name, err, out)
	}
	return recs[0].NetworkSettings.IPAddress, nil
}

// sink listens on addr, says where on out, and for each connection reads
// everything until the sender closes its side, then answers with the
// count of bytes read (8 bytes, big-endian): the sender's clock stops on
// that answer, so every byte was delivered.
func sink(addr string, out io.Writer) error {
	l, err := net.Listen("tcp4", addr)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, l.Addr())
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			buf := make([]byte, readSize)
			var n int64
			for {
				m, err := c.Read(buf)
				n += int64(m)
				if err != nil {
					break
				}
			}
			_ = binary.Write(c, binary.BigEndian, n)
		}()
	}
}

// transfer sends n bytes to the sink at addr and returns the time from
// the connect to the sink's count.
func transfer(addr string, n int64) (time.Duration, error) {
	buf := make([]byte, chunkSize)
	start := time.Now()
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	for left := n; left > 0; {
		m := min(left, int64(len(buf)))
		if _, err := c.Write(buf[:m]); err != nil {
			return 0, err
		}
		left -= m
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return 0, err
	}
	var got int64
	if err := binary.Read(c, binary.BigEndian, &got); err != nil {
		return 0, fmt.Errorf("the sink's count: %w", err)
	}
	d := time.Since(start)
	if got != n {
		return 0, fmt.Errorf("the sink read %d bytes of %d", got, n)
	}
	return d, nil
}

// waitFor dials addr until something accepts (the container's sink takes
// a moment to listen).
func waitFor(addr string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp4", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the sink on %s: %w", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort is a TCP port nothing listens on now, on any address.
func freePort() (int, error) {
	l, err := net.Listen("tcp4", ":0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ourObjects are the host's links and nftables tables with the project's
// prefixes (ubx…, unbox…), to check the bench left none of its own.
func ourObjects() (map[string]bool, error) {
	objs := map[string]bool{}
	links, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	for _, l := range links {
		if strings.HasPrefix(l.Name, network.LinkPrefix) {
			objs["link "+l.Name] = true
		}
	}
	conn, err := nftables.New()
	if err != nil {
		return nil, err
	}
	tables, err := conn.ListTables()
	if err != nil {
		return nil, fmt.Errorf("nft list tables: %w", err)
	}
	for _, t := range tables {
		if strings.HasPrefix(t.Name, network.TablePrefix) {
			objs["nftables table "+t.Name] = true
		}
	}
	return objs, nil
}

func report(w io.Writer, paths []*path, variants []*variant, size, transfers, rounds int) {
	fmt.Fprintf(w, "\nthroughput, host to sink over TCP, %d MiB per transfer; medians of %d transfers per path (paths alternating):\n", size, transfers)
	for _, p := range paths {
		fmt.Fprintf(w, "  %-44s %8.0f MiB/s\n", p.name, benchutil.Median(p.mibs))
	}
	base := benchutil.Median(paths[0].mibs)
	fmt.Fprintf(w, "ratios to loopback: published port %.2f, container address %.2f\n",
		benchutil.Median(paths[1].mibs)/base, benchutil.Median(paths[2].mibs)/base)

	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	fmt.Fprintf(w, "\nstart-up, unbox run -d IMAGE sleep 600; medians of %d rounds (variants alternating):\n", rounds)
	for _, v := range variants {
		fmt.Fprintf(w, "  %-44s %8.1f ms\n", v.name, ms(benchutil.Median(v.times)))
	}
	none, bridge, publish := benchutil.Median(variants[0].times), benchutil.Median(variants[1].times), benchutil.Median(variants[2].times)
	fmt.Fprintf(w, "-p adds %.1f ms over run -d on the bridge (ratio %.2f; median of the rounds' own differences %.1f ms)\n",
		ms(publish-bridge), float64(publish)/float64(bridge), ms(pairedDiff(variants[2].times, variants[1].times)))
	fmt.Fprintf(w, "the bridge adds %.1f ms over --network none (ratio %.2f; median of the rounds' own differences %.1f ms)\n",
		ms(bridge-none), float64(bridge)/float64(none), ms(pairedDiff(variants[1].times, variants[0].times)))
}

// pairedDiff is the median of a[i]-b[i]: each round's two starts ran back
// to back, so a change of load between rounds cancels out.
func pairedDiff(a, b []time.Duration) time.Duration {
	d := make([]time.Duration, min(len(a), len(b)))
	for i := range d {
		d[i] = a[i] - b[i]
	}
	return benchutil.Median(d)
}
