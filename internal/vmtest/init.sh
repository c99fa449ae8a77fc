#!/bin/sh
# /init of the VM test lane (internal/vmtest), run by busybox sh as PID 1.
#
# The host wrote /etc/vmtest/modules (kernel modules, in load order) and
# /etc/vmtest/plan (one line per test binary: package, binary, modes, -test.skip),
# and passes vmtest.token=, vmtest.mode= and vmtest.timeout= on the kernel
# command line. Every line meant for the host starts with
# "@@vmtest <token> ", a token the tests cannot know, so no test output can
# be mistaken for a marker.
#
# Modes, pure cgroup v2 (cgroup-v2.rst, "Organizing Processes and Threads",
# "Controlling Controllers"):
#   bare     cgroup2 mounted, no controller enabled at the root, the tests in
#            the root cgroup: a machine without systemd.
#   systemd  what a systemd machine (the Vagrant lab's Ubuntu) has: cgroup2
#            mounted with nsdelegate,memory_recursiveprot, controllers
#            enabled at the root and down to the login session, the tests in
#            /user.slice/user-1000.slice/session-1.scope (sudo from an ssh
#            login), and "/" a shared mount (systemd makes it one).
# and cgroup v1 (Documentation/admin-guide/cgroup-v1/cgroups.rst), laid out
# as systemd's mount-setup.c does on the distributions that still use it:
#   hybrid   a read-only tmpfs at /sys/fs/cgroup holding one v1 hierarchy
#            per controller, cpu,cpuacct and net_cls,net_prio mounted
#            together (with a symlink named for each), a name=systemd
#            hierarchy, and cgroup2 at /sys/fs/cgroup/unified with no
#            controller (Ubuntu 18.04 and 20.04, Debian 10); the tests in the
#            login session's cgroups, as sudo from an ssh login puts them.
#   legacy   the same without cgroup2 (RHEL and CentOS 7 and 8).
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root

param() { # param NAME: the value of vmtest.NAME= on the kernel command line
	read -r cmdline </proc/cmdline
	# shellcheck disable=SC2086 # split into words on purpose
	for w in $cmdline; do
		case "$w" in vmtest."$1"=*) echo "${w#*=}"; return ;; esac
	done
}
say() { printf '\n@@vmtest %s %s\n' "$TOKEN" "$*"; }
fatal() { say fatal "$*"; halt; }
halt() { sync; poweroff -f; echo o >/proc/sysrq-trigger; sleep 10; }

if [ "${1:-}" != stage2 ]; then
	# Stage 1, in the initramfs. pivot_root(2) refuses to move it (rootfs
	# is the one mount without a parent), and the lessons pivot_root into
	# their containers. So make / an ordinary mount, as on a real machine:
	# a bind mount of the initramfs moved over it, its parent rootfs, and
	# start again in there. (switch_root would do it with a copy, and then
	# empty the initramfs, which here is the same filesystem.)
	/bin/busybox --install -s
	mkdir -p /proc && mount -t proc proc /proc
	TOKEN=$(param token)
	say booted
	mkdir -p /newroot
	mount --bind / /newroot || fatal "mount --bind / /newroot"
	umount /proc
	cd /newroot || fatal "cd /newroot"
	mount --move . / || fatal "mount --move /newroot /"
	exec chroot . /init stage2
fi

# Stage 2: PID 1, on a root that is a mount like any other.
mount -t proc proc /proc
TOKEN=$(param token)
MODE=$(param mode)
TIMEOUT=$(param timeout)
mount -t sysfs sysfs /sys || fatal "mount sysfs"
mount -t devtmpfs devtmpfs /dev || fatal "mount devtmpfs"
mkdir -p /dev/pts /dev/shm
mount -t devpts -o ptmxmode=0666 devpts /dev/pts || fatal "mount devpts"
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp || fatal "mount /tmp"
mount -t tmpfs -o mode=0755 tmpfs /run || fatal "mount /run"
hostname vmtest
ip link set lo up || fatal "ip link set lo up"

# The modules first: on a real machine they load before systemd sets up
# cgroups, and the v1 setup mounts what /proc/cgroups lists.
while read -r m; do
	insmod "/$m" || fatal "insmod /$m"
done </etc/vmtest/modules

cg=/sys/fs/cgroup
session=/user.slice/user-1000.slice/session-1.scope
# join: the cgroup.procs files the test binaries are written into, one per
# hierarchy (one in all under cgroup v2).
join=""
place() { # place DIR: the tests run in cgroup DIR (created)
	mkdir -p "$1" || fatal "mkdir $1"
	join="$join $1/cgroup.procs"
}

case "$MODE" in
bare)
	mount -t cgroup2 cgroup2 $cg || fatal "mount cgroup2 on $cg"
	place $cg
	;;
systemd)
	mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 $cg || fatal "mount cgroup2 on $cg"
	mount --make-rshared / || fatal "mount --make-rshared /"
	delegate() { # delegate DIR CONTROLLER...: those the kernel has, to DIR's children
		d=$1
		shift
		for c in "$@"; do
			if grep -qw "$c" "$d/cgroup.controllers"; then
				echo "+$c" >"$d/cgroup.subtree_control" || fatal "enable $c in $d"
			fi
		done
	}
	delegate $cg cpuset cpu io memory hugetlb pids rdma misc
	mkdir -p $cg/init.scope $cg/system.slice $cg$session
	echo 1 >$cg/init.scope/cgroup.procs || fatal "move PID 1 to init.scope"
	delegate $cg/user.slice cpu memory pids
	delegate $cg/user.slice/user-1000.slice cpu memory pids
	place $cg$session
	;;
hybrid | legacy)
	# mount-setup.c: the tmpfs, then every controller the kernel has
	# (/proc/cgroups: subsys_name hierarchy num_cgroups enabled), the pairs
	# systemd joins in one hierarchy, then name=systemd, then cgroup2 for
	# hybrid; last, the tmpfs is made read-only.
	mount -t tmpfs -o nosuid,nodev,noexec,mode=0755 tmpfs $cg || fatal "mount tmpfs on $cg"
	awk 'NR > 1 && $4 == 1 { print $1 }' /proc/cgroups >/run/controllers
	while read -r c; do
		case "$c" in
		cpu | cpuacct) h=cpu,cpuacct ;;
		net_cls | net_prio) h=net_cls,net_prio ;;
		*) h=$c ;;
		esac
		[ -d "$cg/$h" ] && continue
		mkdir "$cg/$h"
		mount -t cgroup -o nosuid,nodev,noexec,"$h" cgroup "$cg/$h" || fatal "mount -t cgroup -o $h cgroup $cg/$h"
		if [ "$h" != "$c" ]; then
			for l in $(echo "$h" | tr , ' '); do ln -s "$h" "$cg/$l"; done
		fi
	done </run/controllers
	mkdir $cg/systemd
	mount -t cgroup -o nosuid,nodev,noexec,none,name=systemd,xattr cgroup $cg/systemd || fatal "mount name=systemd on $cg/systemd"
	if [ "$MODE" = hybrid ]; then
		mkdir $cg/unified
		mount -t cgroup2 -o nosuid,nodev,noexec,nsdelegate cgroup2 $cg/unified || fatal "mount cgroup2 on $cg/unified"
	fi
	mount -o remount,ro,nosuid,nodev,noexec,mode=0755 $cg || fatal "remount $cg read-only"
	mount --make-rshared / || fatal "mount --make-rshared /"
	for h in systemd unified; do
		if [ -d $cg/$h ]; then
			mkdir -p $cg/$h/init.scope || fatal "mkdir $cg/$h/init.scope"
			echo 1 >$cg/$h/init.scope/cgroup.procs || fatal "move PID 1 to $h/init.scope"
		fi
	done
	# Where sudo from an ssh login runs on such a host: the session scope in
	# the hierarchies systemd tracks or accounts per unit (name=systemd,
	# unified, memory, pids), the slice in those it sets up per slice
	# (cpu,cpuacct, blkio, devices), the root in the rest.
	for h in systemd unified memory pids; do
		if [ -d $cg/$h ]; then place $cg/$h$session; fi
	done
	for h in cpu,cpuacct blkio devices; do
		if [ -d $cg/$h ]; then place $cg/$h/user.slice; fi
	done
	;;
*) fatal "unknown mode '$MODE'" ;;
esac

echo 1 >/proc/sys/kernel/printk # kernel warnings would cut into test output
say info kernel "$(uname -r)"
say info cgroupfs "$(stat -f -c %t $cg)"
say info cgroupro "$(awk -v cg=$cg '$5 == cg { split($6, o, ","); print o[1] }' /proc/self/mountinfo)"
say info v1mounts "$(grep -c ' cgroup ' /proc/mounts)"
if [ -f $cg/cgroup.controllers ]; then
	say info controllers "$(cat $cg/cgroup.controllers)"
	say info subtree_control "$(cat $cg/cgroup.subtree_control)"
fi
if [ -d $cg/unified ]; then
	say info unified "$(stat -f -c %t $cg/unified)"
	say info unified_controllers "$(cat $cg/unified/cgroup.controllers)"
fi
# What the kernel says a test process is in: one line per hierarchy.
say info proccgroup "$( (
	for f in $join; do echo 0 >"$f" || exit 1; done
	tr '\n' ' ' </proc/self/cgroup
) || echo "cannot join $join")"
say info rootmount "$(awk '$5 == "/" { print $7 }' /proc/self/mountinfo)"
say info cpus "$(nproc)"
say info memory "$(awk '/MemTotal/ { print int($2 / 1024) " MiB" }' /proc/meminfo)"
say ready

# Each binary writes into a pipe, as under go test (not onto the console,
# which is a terminal); its exit status comes back through a file.
tab=$(printf '\t')
while IFS=$tab read -r pkg bin modes skip; do
	# modes: "all", or the boot modes this package runs in (exclusions.go).
	case ",$modes," in
	,all, | *",$MODE,"*) ;;
	*) continue ;;
	esac
	say start "$pkg"
	{
		(
			for f in $join; do
				echo 0 >"$f" || exit 125 # 0: the writing process
			done
			cd "/unbox/src/$pkg" || exit 125
			set -- -test.run '^TestPriv' -test.v=test2json -test.timeout="$TIMEOUT"
			if [ -n "$skip" ]; then set -- "$@" -test.skip "$skip"; fi
			UNBOX_REQUIRE_PRIVILEGED=1 exec "/unbox/bin/$bin" "$@"
		) </dev/null 2>&1
		echo "$?" >/run/vmtest.status
	} | cat
	say exit "$pkg" "$(cat /run/vmtest.status)"
done </etc/vmtest/plan

dmesg -l emerg,alert,crit,err,warn | tail -n 40 | sed "s/^/@@vmtest $TOKEN dmesg /"
say "done"
halt
