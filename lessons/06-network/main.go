//go:build linux

// Lesson 06: networking. A container's network is a network namespace of
// its own, wired to the host with kernel parts: a veth pair, a bridge,
// addresses and routes, IP forwarding, NAT rules, and a DNS responder for
// names. The lesson builds what `docker run -p 8080:80 --network mynet
// --network-alias db` builds, one part per step, with the package the
// capstone runs (internal/network), and proves each part with a real
// connection.
//
// Run it with `go run -exec sudo ./lessons/06-network` (see README.md).
package main

import (
	"context"
	_ "embed"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/internal/kit"
)

func main() { kit.Main(run) }

// zhPO is the lesson's narration in Chinese (--lang zh).
//
//go:embed zh.po
var zhPO string

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return kit.Run(ctx, lesson(), args, stdin, stdout, stderr)
}

const intro = `A container's network is a namespace of its own, wired to the host by kernel parts. This
lesson builds what docker run -p 8080:80 --network mynet --network-alias db builds, one part
per step, and tries each part with a real connection. The end result:

   container a (alias db)   container b                  outside: a namespace that
  ┌──────────────────┐     ┌──────────────────┐          stands in for the world
  │ eth0 10.66.0.2   │     │ eth0 10.66.0.3   │         ┌───────────────────┐
  └────────┬─────────┘     └────────┬─────────┘         │ eth0 198.51.100.2 │
           │ ubx06-a                │ ubx06-b           └─────────┬─────────┘
  ┌────────┴────────────────────────┴─────────┐                   │
  │ bridge ubx06-br 10.66.0.1   DNS on :53    │       ubx06-out 198.51.100.1
  └───────────────────────────────────────────┘                host
   the host routes between the two (ip_forward); nftables table unbox06:
   masquerade on the way out, 8080 → a:80 on the way in`

func lesson() *kit.Lesson {
	l := &lab{}
	return &kit.Lesson{
		Name:  "06-network",
		Title: "06 · networking: veth, a bridge, NAT, published ports and names",
		Intro: intro,
		Needs: needs,
		Flags: []cli.Flag{&cli.UintFlag{Name: "host-port", Value: 8080,
			Usage: "the host port step 6 publishes (`PORT`), if 8080 is taken on your machine"}},
		Steps: []kit.Step{
			{
				Title: "A network namespace has only lo, and it is down",
				Explain: "Container a gets a network namespace of its own (lesson 01): no interfaces but a loopback,\n" +
					"switched off. We name it so that ip(8) can find it, bring lo up and talk across it.",
				Run: l.stepNetNS,
			},
			{
				Title: "A veth pair: a cable from the host into the container",
				Explain: "A veth pair is two interfaces joined like the ends of a cable: what goes in one comes out\n" +
					"of the other. One end stays on the host, the other is created inside a's namespace.",
				Requires: []int{1},
				Run:      l.stepVeth,
			},
			{
				Title: "A bridge: a switch for many containers",
				Explain: "One cable per container does not scale: a bridge is a software switch on the host. Each\n" +
					"container's host end becomes a port of it, and the gateway address moves onto the bridge.",
				Requires: []int{1, 2},
				Run:      l.stepBridge,
			},
			{
				Title: "Addresses: a subnet no route uses, leases under a lock",
				Explain: "Where 10.66.0.0/24 came from, and how a runtime hands out .2, .3, ... so that two containers\n" +
					"started at the same moment never get the same address.",
				Requires: []int{1, 2, 3},
				Run:      l.stepIPAM,
			},
			{
				Title: "The way out: a default route, forwarding and masquerade",
				Explain: "The containers can reach the host; to reach the world they need a default route, a host that\n" +
					"forwards packets, and NAT, so that the answers find their way back to a private address.",
				Requires: []int{1, 2, 3},
				Run:      l.stepWayOut,
			},
			{
				Title: "Published ports: -p 8080:80",
				Explain: "Connections to the host's port 8080 go to a's port 80: DNAT rules, for traffic from outside\n" +
					"and for the host's own connections to 127.0.0.1:8080, and hairpin for a itself.",
				Requires: []int{1, 2, 3, 5},
				Run:      l.stepPorts,
			},
			{
				Title: "Names: b finds a as a and as db",
				Explain: "Containers find each other by name through a DNS responder that knows the network's\n" +
					"containers, which each container's /etc/resolv.conf points at.",
				Requires: []int{1, 2, 3, 5},
				Run:      l.stepNames,
			},
			{
				Title:    "Clean up",
				Explain:  "Everything the lesson made goes, last made first, and the host's tables are as they were.",
				Requires: []int{1},
				Run:      l.stepCleanUp,
			},
		},
		Exercises:  exercises,
		Catalogs:   map[string]string{"zh": zhPO},
		Shell:      shell,
		ShellNeeds: needs,
		Outro: "A container's network is a namespace, a veth pair into it, a bridge, routes, three kinds of NAT\n" +
			"rule and a name server: all of it kernel parts, set up over netlink. Lesson 07 enters a running\n" +
			"container's namespaces, this network's included (setns(2)).",
	}
}
