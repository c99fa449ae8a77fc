package nsenter

// Namespace is a kind of namespace, named as /proc/<pid>/ns/ names its file
// (namespaces(7)).
type Namespace string

// The kinds of namespace a process can join.
const (
	Cgroup Namespace = "cgroup"
	IPC    Namespace = "ipc"
	UTS    Namespace = "uts"
	Net    Namespace = "net"
	PID    Namespace = "pid"
	Time   Namespace = "time"
	Mount  Namespace = "mnt"
	User   Namespace = "user"
)

// All lists every kind in the order [Start] joins them. The user namespace
// comes last, as nsenter(1) enters it when it is root: joining the others
// needs CAP_SYS_ADMIN over each of them, which root in the host's user
// namespace has and may no longer have once inside the container's.
var All = []Namespace{Cgroup, IPC, UTS, Net, PID, Time, Mount, User}

// flags are the clone(2) flags that name each kind to setns(2).
var flags = map[Namespace]uintptr{
	Cgroup: 0x02000000, // CLONE_NEWCGROUP
	IPC:    0x08000000, // CLONE_NEWIPC
	UTS:    0x04000000, // CLONE_NEWUTS
	Net:    0x40000000, // CLONE_NEWNET
	PID:    0x20000000, // CLONE_NEWPID
	Time:   0x00000080, // CLONE_NEWTIME
	Mount:  0x00020000, // CLONE_NEWNS
	User:   0x10000000, // CLONE_NEWUSER
}

// CloneFlag is the clone(2) flag of the kind, which setns(2) takes to check
// that a file is a namespace of that kind: CLONE_NEWNS for "mnt". It is 0
// for a kind this package does not know.
func (n Namespace) CloneFlag() uintptr { return flags[n] }

// forChildren is the file a kind's namespace for the process's future
// children is read from, where it differs from the process's own: a PID or
// time namespace is joined by the children of whoever joins it.
func (n Namespace) forChildren() string {
	if n == PID || n == Time {
		return string(n) + "_for_children"
	}
	return string(n)
}
