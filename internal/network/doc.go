// Package network is how unbox wires a container to the world: network
// namespaces, veth pairs, a bridge, addresses and routes, IP forwarding,
// NAT and published ports in an nftables table of our own, an address
// manager (IPAM) and a DNS responder that finds containers by name.
//
// Lesson 06 (lessons/06-network) teaches it one piece at a time and prints
// what each piece did; the capstone's `unbox network`, `--network`,
// `--network-alias` and `-p` run it through [Store].
//
// # Data first
//
// Every change is an [Action] (a link, an address, a route, a sysctl, an
// nftables table) in a [Plan]. A plan can be shown before it runs: each
// action's Command is the `ip ...`, `sysctl ...` or `nft ...` line a person
// would type. [Undo.Apply] performs a plan over netlink, reports every action
// to a [Trace] as it does it, and records how to take it back; if an action
// fails, the actions already done are undone, so a failed plan leaves nothing
// half-made. [Undo.Run] takes everything back in reverse order: what the
// plans created is deleted (a link, a namespace, a table), what they changed
// on things that were already there is restored (a sysctl, an address).
// Nothing here runs ip, iptables or nft: links, addresses and routes go
// through rtnetlink (github.com/vishvananda/netlink), rules through
// nf_tables' netlink API (github.com/google/nftables).
//
// # The pieces
//
//   - [NetNS]: a network namespace kept alive by a bind mount, as
//     `ip netns add` makes it (ip-netns(8)); [NetNS.Do] runs code in it.
//   - Links: [AddBridge] (with a fixed MAC), [AddVeth] (the peer created
//     directly in the container's namespace), [SetMaster], [SetHairpin],
//     [SetUp]; [AddAddr], [AddRoute]; [Sysctl] for ip_forward and
//     route_localnet. [BridgePlan] and [EndpointPlan] are the plans a
//     network and a container on it need.
//   - Rules: a [Table] of ours (named unbox…, family ip), built by [Ruleset]
//     from the networks and their published ports, and replaced whole in
//     one nf_tables transaction ([ApplyTable], [ApplyTableNow]); the host's
//     other tables are never flushed or touched.
//   - Addresses: [ChooseSubnet] picks a subnet that overlaps no route the
//     host has; [Leases] hands out addresses from a JSON file under flock(2),
//     so containers started at the same time never get the same one.
//   - Ports: [ParsePort] reads `-p [IP:]HOST:CONTAINER[/PROTO]`, and
//     [ParsePorts] its ranges; [Ruleset] turns each mapping into DNAT rules
//     (see ruleset.go for why the host's own 127.0.0.1 works through
//     route_localnet rather than a proxy), and isolates networks.
//   - Names: [DNSServer] answers a network's container names and aliases
//     from a [RecordSource] that changes as containers come and go, and
//     forwards other names to upstream resolvers, as Docker's 127.0.0.11 and
//     podman's aardvark-dns do. [ResolvConf] and [HostsFile] write the
//     container's side.
//   - [Store]: all of the above as the capstone uses it, with state under a
//     directory the caller chooses (/var/lib/unbox/networks), changed under
//     a lock.
//
// Everything made on the host carries our prefix: links start with "ubx",
// nftables tables and namespaces with "unbox"; [OursOnHost] lists them, and
// [HostState] adds ip_forward, for leak checks. [Requirements] probe the
// kernel for veth, bridge and each part of nf_tables used. IPv4 only, for
// now. [Ruleset] isolates networks from each other, as Docker does.
//
// Nothing in this package prints; callers show the trace.
package network
