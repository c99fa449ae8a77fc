// Package k8s plugs unbox-runtime into Kubernetes the way runc, crun and
// gVisor plug in: as a runtime handler of containerd's CRI plugin, which a
// pod selects through a RuntimeClass. The files an operator installs are
// here, next to this package: containerd-unbox.toml (the handler, for
// /etc/containerd/config.toml), runtimeclass.yaml (the RuntimeClass) and
// pod.yaml (a pod that uses it); capstone/README.md, "unbox-runtime in
// Kubernetes", is the operator's three steps.
//
// The package proves them on one node. [StartNode] runs Debian's
// containerd with exactly that handler (and runc's, to compare), in a
// private directory and a private mount namespace: its socket, root and
// state in the directory, and a tmpfs over /run in the namespace, so that
// nothing it or its shims write under /run (the shims' sockets, which
// containerd 1.6 puts in /run/containerd/s whatever its configuration, the
// runtimes' state, the pods' network namespaces) touches the host's, and
// all of it goes with the namespace. Pods get their network from the CNI
// bridge plugin (Debian's containernetworking-plugins): a bridge ubx-cri0
// with no address, in a private subnet, and a veth into each pod; nothing
// is routed or masqueraded, so pods reach each other and nothing else.
// Images come from [WriteArchive]: the root filesystem fixture, imported
// under the names the tests use, the pod sandbox's (pause) image among
// them. [BuildCRITools] builds crictl and critest from cri-tools, pinned.
//
// Its tests drive the node with crictl under both handlers and compare
// what they see (cri_test.go), and run critest's specs (critest_test.go);
// bench/cri measures pod start latency with it.
package k8s
