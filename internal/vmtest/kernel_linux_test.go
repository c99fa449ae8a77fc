package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/unboxlab/unbox/internal/kit/kittest"
)

// The lane's own privileged test: the kernel it boots has what the lessons
// and the capstone build on, proven by using each piece once, so that a
// module missing from kernelModules fails here, by name, before a lesson
// fails somewhere in its middle. It runs on the host too (.ci/run's test
// command), where it checks the host's kernel the same way.

// kernelChildEnv makes the test binary the child that does the work, in a
// network and mount namespace of its own (see kernelChild).
const kernelChildEnv = "_UNBOX_VMTEST_KERNEL_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(kernelChildEnv); dir != "" {
		os.Exit(kernelChild(dir))
	}
	kittest.Main(m, nil)
}

// kernelFeature is one thing the kernel must be able to do, and the
// modules (kernelModules) that do it in Debian's kernel.
type kernelFeature struct {
	Name    string
	Modules string
	Try     func(dir string) error
}

var kernelFeatures = []kernelFeature{
	{"overlayfs mount", "overlay", tryOverlay},
	{"veth pair", "veth", withRoute(tryVeth)},
	{"bridge with a veth in it", "bridge", withRoute(tryBridge)},
	{"TAP device", "tun", withRoute(tryTAP)},
	{"nftables ip NAT table", "nf_tables nft_chain_nat nft_nat nft_masq nft_ct nft_fib_inet", func(string) error { return tryNftNAT(unix.NFPROTO_IPV4) }},
	{"nftables inet NAT table", "nf_tables nft_chain_nat nft_nat nft_masq nft_ct nft_fib_inet", func(string) error { return tryNftNAT(unix.NFPROTO_INET) }},
}

// withRoute gives a check of links an rtnetlink connection.
func withRoute(try func(*netlinkConn) error) func(string) error {
	return func(string) error {
		nl, err := dialNetlink(unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		defer nl.Close()
		return try(nl)
	}
}

// TestPrivKernelHasWhatTheLessonsNeed runs kernelChild in new network and
// mount namespaces, which die with it: the host never sees its links,
// tables or mounts. Each feature is a subtest, so a failure names it.
func TestPrivKernelHasWhatTheLessonsNeed(t *testing.T) {
	kittest.Privileged(t)
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), kernelChildEnv+"="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNET | unix.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	results := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		name, result, _ := strings.Cut(sc.Text(), "\t")
		results[name] = result
	}
	if err != nil {
		t.Fatalf("the child in new namespaces: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.Bytes())
	}
	for _, f := range kernelFeatures {
		t.Run(f.Name, func(t *testing.T) {
			switch r, ok := results[f.Name]; {
			case !ok:
				t.Errorf("the child did not report on %s", f.Name)
			case r != "ok":
				t.Errorf("%s: %s\n(in Debian's kernel this takes the modules %s: internal/vmtest/kernel.go lists what the VM loads, in kernelModules)",
					f.Name, r, f.Modules)
			}
		})
	}
}

// kernelChild tries every feature and prints "name<TAB>ok" or
// "name<TAB>error" for each; it returns the exit status.
func kernelChild(dir string) int {
	// The new mount namespace is a copy of one whose "/" may be shared
	// (systemd makes it so): stop our mounts from propagating back first
	// (mount_namespaces(7)).
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		fmt.Fprintln(os.Stderr, "mount --make-rprivate /:", err)
		return 1
	}
	for _, f := range kernelFeatures {
		result := "ok"
		if err := f.Try(dir); err != nil {
			result = strings.ReplaceAll(err.Error(), "\n", " ")
		}
		fmt.Printf("%s\t%s\n", f.Name, result)
	}
	return 0
}

// tryOverlay mounts an overlay and writes through it: the file must land
// in the upper layer and the lower one must stay as it was.
func tryOverlay(dir string) error {
	root := filepath.Join(dir, "overlay")
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(root, "lower", "f"), []byte("lower"), 0o644); err != nil {
		return err
	}
	merged := filepath.Join(root, "merged")
	opts := fmt.Sprintf("lowerdir=%s/lower,upperdir=%s/upper,workdir=%s/work", root, root, root)
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount -t overlay -o %s overlay %s: %w", opts, merged, err)
	}
	defer unix.Unmount(merged, 0)
	if err := os.WriteFile(filepath.Join(merged, "f"), []byte("upper"), 0o644); err != nil {
		return err
	}
	up, err := os.ReadFile(filepath.Join(root, "upper", "f"))
	if err != nil || string(up) != "upper" {
		return fmt.Errorf("a write through the overlay: upper/f = %q, %v; want \"upper\"", up, err)
	}
	if low, _ := os.ReadFile(filepath.Join(root, "lower", "f")); string(low) != "lower" {
		return fmt.Errorf("a write through the overlay changed lower/f to %q", low)
	}
	return nil
}

func tryVeth(nl *netlinkConn) error {
	if err := nl.newVeth("ubxsmk0", "ubxsmk1"); err != nil {
		return err
	}
	if _, err := nl.linkOfKind("ubxsmk0", "veth"); err != nil {
		return err
	}
	_, err := nl.linkOfKind("ubxsmk1", "veth")
	return err
}

func tryBridge(nl *netlinkConn) error {
	if err := nl.newLink("ubxsmkbr", "bridge"); err != nil {
		return err
	}
	if err := nl.newVeth("ubxsmk2", "ubxsmk3"); err != nil {
		return err
	}
	br, err := nl.linkOfKind("ubxsmkbr", "bridge")
	if err != nil {
		return err
	}
	if err := nl.setMaster("ubxsmk2", br.Index); err != nil {
		return err
	}
	port, err := nl.getLink("ubxsmk2")
	if err != nil {
		return err
	}
	if port.Master != br.Index {
		return fmt.Errorf("ubxsmk2's master is link %d; want the bridge, %d", port.Master, br.Index)
	}
	return nil
}

// tryTAP makes a TAP device as slirp4netns and pasta do: TUNSETIFF on
// /dev/net/tun (Documentation/networking/tuntap.rst).
func tryTAP(nl *netlinkConn) error {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/net/tun: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("ubxsmktap")
	if err != nil {
		return err
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		return fmt.Errorf("ioctl(/dev/net/tun, TUNSETIFF, ubxsmktap, IFF_TAP|IFF_NO_PI): %w", err)
	}
	_, err = nl.linkOfKind("ubxsmktap", "tun")
	return err
}

// tryNftNAT makes, in one nftables transaction, what a container network's
// NAT needs, as `nft -f` would from:
//
//	table <family> unbox-vmtest-smoke {
//		chain postrouting { type nat hook postrouting priority srcnat; ct state new masquerade }
//		chain prerouting { type nat hook prerouting priority dstnat; fib daddr type local dnat ip to 10.0.0.2 }
//	}
//
// The kernel refuses a chain type or an expression it has no module for,
// and applies none of the transaction.
func tryNftNAT(family uint8) error {
	nl, err := dialNetlink(unix.NETLINK_NETFILTER)
	if err != nil {
		return err
	}
	defer nl.Close()
	const table = "unbox-vmtest-smoke"
	be32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	nested := func(typ uint16, attrs ...[]byte) []byte { return nlAttr(typ|unix.NLA_F_NESTED, bytes.Join(attrs, nil)) }
	chain := func(name string, hook uint32, prio int32) []byte {
		return bytes.Join([][]byte{
			nlString(unix.NFTA_CHAIN_TABLE, table), nlString(unix.NFTA_CHAIN_NAME, name),
			nested(unix.NFTA_CHAIN_HOOK, nlAttr(unix.NFTA_HOOK_HOOKNUM, be32(hook)), nlAttr(unix.NFTA_HOOK_PRIORITY, be32(uint32(prio)))),
			nlString(unix.NFTA_CHAIN_TYPE, "nat"),
		}, nil)
	}
	expr := func(name string, data ...[]byte) []byte {
		attrs := [][]byte{nlString(unix.NFTA_EXPR_NAME, name)}
		if len(data) > 0 {
			attrs = append(attrs, nested(unix.NFTA_EXPR_DATA, data...))
		}
		return nested(unix.NFTA_LIST_ELEM, attrs...)
	}
	rule := func(chain string, exprs ...[]byte) []byte {
		return bytes.Join([][]byte{
			nlString(unix.NFTA_RULE_TABLE, table), nlString(unix.NFTA_RULE_CHAIN, chain),
			nested(unix.NFTA_RULE_EXPRESSIONS, exprs...),
		}, nil)
	}
	const reg1 = unix.NFT_REG_1
	u32 := func(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) } // register contents: host order
	value := func(typ uint16, v []byte) []byte { return nested(typ, nlAttr(unix.NFTA_DATA_VALUE, v)) }
	cmp := func(op uint32, v []byte) []byte {
		return expr("cmp", nlAttr(unix.NFTA_CMP_SREG, be32(reg1)), nlAttr(unix.NFTA_CMP_OP, be32(op)), value(unix.NFTA_CMP_DATA, v))
	}
	// ct state new: the state as a bit (NF_CT_STATE_BIT(IP_CT_NEW), 1<<3),
	// masked, not zero.
	const ctStateNew = 1 << 3
	ctNew := [][]byte{
		expr("ct", nlAttr(unix.NFTA_CT_KEY, be32(unix.NFT_CT_STATE)), nlAttr(unix.NFTA_CT_DREG, be32(reg1))),
		expr("bitwise", nlAttr(unix.NFTA_BITWISE_SREG, be32(reg1)), nlAttr(unix.NFTA_BITWISE_DREG, be32(reg1)),
			nlAttr(unix.NFTA_BITWISE_LEN, be32(4)), value(unix.NFTA_BITWISE_MASK, u32(ctStateNew)), value(unix.NFTA_BITWISE_XOR, u32(0))),
		cmp(unix.NFT_CMP_NEQ, u32(0)),
	}
	// fib daddr type local: the route type of the destination, RTN_LOCAL.
	fibLocal := [][]byte{
		expr("fib", nlAttr(unix.NFTA_FIB_DREG, be32(reg1)), nlAttr(unix.NFTA_FIB_RESULT, be32(unix.NFT_FIB_RESULT_ADDRTYPE)),
			nlAttr(unix.NFTA_FIB_FLAGS, be32(unix.NFTA_FIB_F_DADDR))),
		cmp(unix.NFT_CMP_EQ, u32(unix.RTN_LOCAL)),
	}
	msgs := []nftMsg{
		{"add table", unix.NFT_MSG_NEWTABLE, nlString(unix.NFTA_TABLE_NAME, table)},
		{"add chain postrouting (type nat)", unix.NFT_MSG_NEWCHAIN, chain("postrouting", unix.NF_INET_POST_ROUTING, 100)},
		{"add rule: ct state new masquerade", unix.NFT_MSG_NEWRULE, rule("postrouting", append(ctNew, expr("masq"))...)},
		{"add chain prerouting (type nat)", unix.NFT_MSG_NEWCHAIN, chain("prerouting", unix.NF_INET_PRE_ROUTING, -100)},
		{"add rule: fib daddr type local dnat", unix.NFT_MSG_NEWRULE, rule("prerouting", append(fibLocal,
			expr("immediate", nlAttr(unix.NFTA_IMMEDIATE_DREG, be32(reg1)), value(unix.NFTA_IMMEDIATE_DATA, []byte{10, 0, 0, 2})),
			expr("nat", nlAttr(unix.NFTA_NAT_TYPE, be32(unix.NFT_NAT_DNAT)), nlAttr(unix.NFTA_NAT_FAMILY, be32(unix.NFPROTO_IPV4)),
				nlAttr(unix.NFTA_NAT_REG_ADDR_MIN, be32(reg1))))...)},
	}
	if err := nl.nftBatch(family, msgs); err != nil {
		return fmt.Errorf("table %s %s: %w", nfFamily(family), table, err)
	}
	return nil
}

func nfFamily(f uint8) string {
	switch f {
	case unix.NFPROTO_IPV4:
		return "ip"
	case unix.NFPROTO_INET:
		return "inet"
	}
	return fmt.Sprint(f)
}

// netlinkConn is a netlink socket (netlink(7)) with just what these checks
// need: requests that want an acknowledgement, and RTM_GETLINK.
type netlinkConn struct {
	fd  int
	seq uint32
}

func dialNetlink(proto int) (*netlinkConn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, fmt.Errorf("socket(AF_NETLINK, %d): %w", proto, err)
	}
	// A kernel that never answers must fail the check, not hang it.
	tv := unix.Timeval{Sec: 10}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind netlink: %w", err)
	}
	return &netlinkConn{fd: fd, seq: uint32(time.Now().Unix())}, nil
}

func (c *netlinkConn) Close() error { return unix.Close(c.fd) }

// nlAttr is one netlink attribute: length, type, payload, padding to 4.
func nlAttr(typ uint16, payload []byte) []byte {
	b := binary.NativeEndian.AppendUint16(nil, uint16(unix.SizeofNlAttr+len(payload)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func nlString(typ uint16, s string) []byte { return nlAttr(typ, append([]byte(s), 0)) }

// parseAttrs splits a run of attributes by type (the last of a type wins).
func parseAttrs(b []byte) map[uint16][]byte {
	out := map[uint16][]byte{}
	for len(b) >= unix.SizeofNlAttr {
		n := int(binary.NativeEndian.Uint16(b))
		if n < unix.SizeofNlAttr || n > len(b) {
			break
		}
		out[binary.NativeEndian.Uint16(b[2:])&^(unix.NLA_F_NESTED|unix.NLA_F_NET_BYTEORDER)] = b[unix.SizeofNlAttr:n]
		b = b[min((n+3)&^3, len(b)):]
	}
	return out
}

// message frames one request.
func (c *netlinkConn) message(typ, flags uint16, payload []byte) ([]byte, uint32) {
	c.seq++
	b := binary.NativeEndian.AppendUint32(nil, uint32(unix.SizeofNlMsghdr+len(payload)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = binary.NativeEndian.AppendUint16(b, flags)
	b = binary.NativeEndian.AppendUint32(b, c.seq)
	b = binary.NativeEndian.AppendUint32(b, 0)
	return append(b, payload...), c.seq
}

// exchange sends b and reads answers until each of seqs is acknowledged
// (NLMSG_ERROR with error 0), or one is refused; data messages go to
// onData.
func (c *netlinkConn) exchange(b []byte, seqs map[uint32]string, onData func(syscall.NetlinkMessage)) error {
	if err := unix.Sendto(c.fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	buf := make([]byte, 1<<16)
	for len(seqs) > 0 {
		n, _, err := unix.Recvfrom(c.fd, buf, 0)
		if err != nil {
			return fmt.Errorf("waiting for the kernel's answer to %s: %w", strings.Join(sortedValues(seqs), ", "), err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			what, ours := seqs[m.Header.Seq]
			if !ours {
				continue
			}
			switch m.Header.Type {
			case unix.NLMSG_ERROR:
				if len(m.Data) < 4 {
					return fmt.Errorf("%s: short NLMSG_ERROR", what)
				}
				if errno := -int32(binary.NativeEndian.Uint32(m.Data)); errno != 0 {
					return fmt.Errorf("%s: %w", what, unix.Errno(errno))
				}
				delete(seqs, m.Header.Seq)
			case unix.NLMSG_DONE:
				delete(seqs, m.Header.Seq)
			default:
				if onData != nil {
					onData(m)
				}
			}
		}
	}
	return nil
}

func sortedValues(m map[uint32]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// ifinfomsg is struct ifinfomsg (rtnetlink(7)) for a link by index.
func ifinfomsg(index int32) []byte {
	b := make([]byte, unix.SizeofIfInfomsg)
	b[0] = unix.AF_UNSPEC
	binary.NativeEndian.PutUint32(b[4:], uint32(index))
	return b
}

// newLink is `ip link add NAME type KIND`.
func (c *netlinkConn) newLink(name, kind string, data ...[]byte) error {
	info := [][]byte{nlString(unix.IFLA_INFO_KIND, kind)}
	if len(data) > 0 {
		info = append(info, nlAttr(unix.IFLA_INFO_DATA, bytes.Join(data, nil)))
	}
	payload := bytes.Join([][]byte{ifinfomsg(0), nlString(unix.IFLA_IFNAME, name), nlAttr(unix.IFLA_LINKINFO, bytes.Join(info, nil))}, nil)
	msg, seq := c.message(unix.RTM_NEWLINK, unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_CREATE|unix.NLM_F_EXCL, payload)
	return c.exchange(msg, map[uint32]string{seq: fmt.Sprintf("ip link add %s type %s", name, kind)}, nil)
}

// newVeth is `ip link add NAME type veth peer name PEER`.
func (c *netlinkConn) newVeth(name, peer string) error {
	peerInfo := append(ifinfomsg(0), nlString(unix.IFLA_IFNAME, peer)...)
	return c.newLink(name, "veth", nlAttr(vethInfoPeer, peerInfo))
}

// vethInfoPeer is VETH_INFO_PEER (include/uapi/linux/veth.h), which x/sys
// does not define.
const vethInfoPeer = 1

// setMaster is `ip link set NAME master <index>`.
func (c *netlinkConn) setMaster(name string, master int32) error {
	l, err := c.getLink(name)
	if err != nil {
		return err
	}
	payload := append(ifinfomsg(l.Index), nlAttr(unix.IFLA_MASTER, binary.NativeEndian.AppendUint32(nil, uint32(master)))...)
	msg, seq := c.message(unix.RTM_NEWLINK, unix.NLM_F_REQUEST|unix.NLM_F_ACK, payload)
	return c.exchange(msg, map[uint32]string{seq: fmt.Sprintf("ip link set %s master %d", name, master)}, nil)
}

type link struct {
	Index, Master int32
	Kind          string
}

// getLink is `ip -details link show NAME`: its index, kind and master.
func (c *netlinkConn) getLink(name string) (link, error) {
	payload := append(ifinfomsg(0), nlString(unix.IFLA_IFNAME, name)...)
	msg, seq := c.message(unix.RTM_GETLINK, unix.NLM_F_REQUEST|unix.NLM_F_ACK, payload)
	var l link
	found := false
	err := c.exchange(msg, map[uint32]string{seq: "ip link show " + name}, func(m syscall.NetlinkMessage) {
		if m.Header.Type != unix.RTM_NEWLINK || len(m.Data) < unix.SizeofIfInfomsg {
			return
		}
		found = true
		l.Index = int32(binary.NativeEndian.Uint32(m.Data[4:]))
		attrs := parseAttrs(m.Data[unix.SizeofIfInfomsg:])
		if v := attrs[unix.IFLA_MASTER]; len(v) == 4 {
			l.Master = int32(binary.NativeEndian.Uint32(v))
		}
		l.Kind = strings.TrimRight(string(parseAttrs(attrs[unix.IFLA_LINKINFO])[unix.IFLA_INFO_KIND]), "\x00")
	})
	if err == nil && !found {
		err = errors.New("ip link show " + name + ": no such link")
	}
	return l, err
}

// linkOfKind is getLink, and an error unless the link is of that kind.
func (c *netlinkConn) linkOfKind(name, kind string) (link, error) {
	l, err := c.getLink(name)
	if err == nil && l.Kind != kind {
		err = fmt.Errorf("link %s is of kind %q; want %s", name, l.Kind, kind)
	}
	return l, err
}

// nftMsg is one message of an nftables transaction.
type nftMsg struct {
	What  string
	Type  uint16 // NFT_MSG_*
	Attrs []byte
}

// nftBatch sends msgs as one transaction, between NFNL_MSG_BATCH_BEGIN and
// _END, as nft(8) does: the kernel applies all or none, and answers each
// message.
func (c *netlinkConn) nftBatch(family uint8, msgs []nftMsg) error {
	nfgen := func(fam uint8, resID uint16) []byte {
		b := []byte{fam, unix.NFNETLINK_V0}
		return binary.BigEndian.AppendUint16(b, resID)
	}
	var batch []byte
	begin, _ := c.message(unix.NFNL_MSG_BATCH_BEGIN, unix.NLM_F_REQUEST, nfgen(unix.AF_UNSPEC, unix.NFNL_SUBSYS_NFTABLES))
	batch = append(batch, begin...)
	seqs := map[uint32]string{}
	for _, m := range msgs {
		b, seq := c.message(unix.NFNL_SUBSYS_NFTABLES<<8|m.Type, unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_CREATE, append(nfgen(family, 0), m.Attrs...))
		batch = append(batch, b...)
		seqs[seq] = m.What
	}
	end, _ := c.message(unix.NFNL_MSG_BATCH_END, unix.NLM_F_REQUEST, nfgen(unix.AF_UNSPEC, unix.NFNL_SUBSYS_NFTABLES))
	return c.exchange(append(batch, end...), seqs, nil)
}
