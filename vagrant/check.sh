#!/usr/bin/env bash
# The Vagrant lab's checks that CI can run (.ci/run calls this): no VM, and
# no network but Debian's archive.
#
#   1. bash -n and shellcheck on the lab's scripts (and on the VM test
#      lane's /init, internal/vmtest/init.sh, a busybox sh script).
#   2. vagrant validate --ignore-provider: the Vagrantfile parses and its
#      settings are valid, whichever providers this machine has (none).
#   3. vagrant/provision.sh in a fresh Debian 12 chroot made from Debian's
#      archive (the mirror this machine's apt uses): the first run
#      provisions; the second must change nothing, by its own report and by
#      a listing of every file in the chroot (size, mode, owner, mtime); and
#      a Go archive whose SHA-256 is not the pinned one must be refused,
#      with nothing installed.
#
# What this does not exercise: the download from go.dev (CI cannot reach
# it). The chroot gets this machine's /usr/local/go instead, which the
# provisioner checks (it runs it) and keeps; the refused archive goes
# through the same checksum-and-unpack code a download would.
#
# Needs root, vagrant, shellcheck, and mmdebstrap with dpkg-dev (for its
# eatmydata hook; about twice as fast as debootstrap, which it falls back
# to). UNBOX_DEBIAN_MIRROR overrides the mirror.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C

[ "$(id -u)" -eq 0 ] || { echo "check.sh: needs root (it builds a chroot)" >&2; exit 1; }
step() { printf -- '--> %s\n' "$*"; }
fail() {
	echo "check.sh: FAIL: $*" >&2
	exit 1
}

work=$(mktemp -d /tmp/lab-check.XXXXXX)
root=$work/root
cleanup() {
	if umount "$root/proc" 2>/dev/null || ! mountpoint -q "$root/proc"; then
		rm -rf --one-file-system "$work"
	else
		echo "check.sh: $root/proc is still mounted; left $work in place" >&2
	fi
}
trap cleanup EXIT

# --- 1 -----------------------------------------------------------------------
scripts=(vagrant/provision.sh vagrant/check.sh .ci/run)
step "bash -n and shellcheck: ${scripts[*]}"
for s in "${scripts[@]}"; do
	bash -n "$s"
done
shellcheck "${scripts[@]}"
shellcheck --shell=sh internal/vmtest/init.sh

# --- 2 -----------------------------------------------------------------------
step "vagrant validate --ignore-provider"
# No version check over the network, and no .vagrant/ left in the checkout.
VAGRANT_CHECKPOINT_DISABLE=1 VAGRANT_DOTFILE_PATH=$work/dot-vagrant HOME=$work \
	vagrant validate --ignore-provider

# --- 3 -----------------------------------------------------------------------
# debian_mirror prints the URI of this machine's apt source for bookworm
# (deb822 .sources first, then one-line sources.list).
debian_mirror() {
	local uri=""
	if compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; then
		uri=$(awk '
			BEGIN { RS = ""; FS = "\n" }
			{
				uris = ""; bookworm = 0; deb = 0
				for (i = 1; i <= NF; i++) {
					if ($i ~ /^URIs:/) { split($i, w, /[ \t]+/); uris = w[2] }
					if ($i ~ /^Suites:/ && $i ~ /[ \t]bookworm([ \t]|$)/) bookworm = 1
					if ($i ~ /^Types:/ && $i ~ /[ \t]deb([ \t]|$)/) deb = 1
				}
				if (uris != "" && bookworm && deb) { print uris; exit }
			}' /etc/apt/sources.list.d/*.sources)
	fi
	if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
		uri=$(awk '$1 == "deb" { for (i = 2; i < NF; i++) if ($(i + 1) == "bookworm" && $i !~ /^\[/) { print $i; exit } }' /etc/apt/sources.list)
	fi
	echo "${uri:-http://deb.debian.org/debian}"
}
mirror=${UNBOX_DEBIAN_MIRROR:-$(debian_mirror)}
t=$SECONDS
if command -v mmdebstrap >/dev/null; then
	step "a Debian 12 chroot from $mirror (mmdebstrap)"
	# eatmydata: dpkg without fsync, for a chroot that lives a minute.
	mmdebstrap --mode=root --variant=apt \
		--hook-dir=/usr/share/mmdebstrap/hooks/eatmydata \
		bookworm "$root" "$mirror" >"$work/bootstrap.log" 2>&1 ||
		{ cat "$work/bootstrap.log"; fail "mmdebstrap"; }
else
	step "a Debian 12 chroot from $mirror (debootstrap)"
	debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/bootstrap.log" 2>&1 ||
		{ cat "$work/bootstrap.log"; fail "debootstrap"; }
fi
echo "    made in $((SECONDS - t))s"

# As in the VM: the repository at /home/vagrant/unbox (the provisioner reads
# only go.mod), and a Go already in /usr/local/go.
repo=/home/vagrant/unbox
mkdir -p "$root$repo/vagrant"
cp vagrant/provision.sh "$root$repo/vagrant/"
cp go.mod "$root$repo/"
cp -a /usr/local/go "$root/usr/local/go"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# No service may start in the chroot (invoke-rc.d asks policy-rc.d).
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
mount -t proc proc "$root/proc"

provision() { # provision LOG [VAR=value...]: run the provisioner in the chroot
	local log=$1
	shift
	chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
		UNBOX_DIR=$repo "$@" bash $repo/vagrant/provision.sh >"$log" 2>&1
}
# listing: every file of the chroot but /proc, with what a change would
# touch. Not the mtimes of directories: a temporary file made and removed
# (mktemp) changes its directory's, and added or removed entries show anyway.
listing() {
	find "$root" -xdev -path "$root/proc" -prune -o \
		\( -type d -printf '%P d %m %U:%G\n' \) -o -printf '%P %y %s %m %U:%G %T@ %l\n' | sort
}

step "provision.sh, first run"
t=$SECONDS
provision "$work/run1.log" || { cat "$work/run1.log"; fail "the first run failed"; }
sed 's/^/    /' "$work/run1.log"
echo "    took $((SECONDS - t))s"

step "provision.sh, second run: must change nothing"
listing >"$work/before"
provision "$work/run2.log" || { cat "$work/run2.log"; fail "the second run failed"; }
sed 's/^/    /' "$work/run2.log"
listing >"$work/after"
grep -qx 'provision: nothing to change' "$work/run2.log" || fail "the second run reported changes"
if ! diff -u "$work/before" "$work/after" >"$work/diff"; then
	head -n 40 "$work/diff"
	fail "the second run changed files in the chroot (above)"
fi
echo "    no file changed ($(wc -l <"$work/before") entries compared)"

step "provision.sh refuses a Go archive with the wrong SHA-256"
rm -rf "$root/usr/local/go"
mkdir -p "$work/fake/go/bin"
echo go0.0.0 >"$work/fake/go/VERSION"
tar -C "$work/fake" -czf "$root/tmp/go-fake.tar.gz" go
if provision "$work/run3.log" UNBOX_GO_TARBALL=/tmp/go-fake.tar.gz; then
	cat "$work/run3.log"
	fail "a Go archive with the wrong SHA-256 was accepted"
fi
sed 's/^/    /' "$work/run3.log"
grep -q 'SHA-256' "$work/run3.log" || fail "the refusal does not name the checksum"
if [ -e "$root/usr/local/go" ] || [ -e "$root/usr/local/go.new" ]; then
	fail "a refused archive left something in /usr/local"
fi
echo "    refused, nothing installed"
