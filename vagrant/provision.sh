#!/usr/bin/env bash
# Provisions the unbox lab VM (see ../Vagrantfile): the Go toolchain that
# go.mod asks for, busybox-static (the root filesystem the lessons enter),
# sudo, git and build tools, and the Go modules go.sum names, in the module
# cache of the user who owns the repository, so that the VM then runs the
# lessons and tests with no network (a workshop room: see WORKSHOP.md).
# Runs as root; `vagrant up` runs it, and so does `vagrant provision`.
#
# Idempotent: every step checks first and changes only what is missing, so a
# second run changes nothing, and says so. It prints what it did.
#
# Settings (environment):
#   UNBOX_DIR         the repository inside the VM, for go.mod's Go version
#                     and the modules to download (default: the directory
#                     above this script)
#   GOPROXY, GOSUMDB, GONOSUMDB, GOPRIVATE, GOINSECURE
#                     passed to `go mod download` when set (a room's own
#                     module proxy, say)
#   UNBOX_GO_TARBALL  a local go<version>.linux-<arch>.tar.gz to install
#                     instead of downloading it; it must still match the
#                     SHA-256 pinned below
# A Go already in /usr/local/go is kept when it is at least the version
# go.mod asks for (a learner's own, or the CI machine's).
set -euo pipefail

# The Go release to install, and the SHA-256 of go.dev's archives of it
# (https://go.dev/dl/?mode=json). Change all three together.
GO_VERSION=1.26.8
declare -A GO_SHA256=(
	[amd64]=d0f743b33e8d8945e6b1f432edd15785c70507121d6e2a723b21285eddf8b57b
	[arm64]=211ffced9dcb9633a55eac6364816ec0ddd951389a740e88fa8b3337971bdda0
)
# gcc and libc6-dev: cgo, which go test -race needs.
PACKAGES=(busybox-static sudo git gcc libc6-dev make ca-certificates curl)
GOROOT_DIR=/usr/local/go
PROFILE=/etc/profile.d/unbox.sh
USERNS_CONF=/etc/sysctl.d/60-unbox-userns.conf

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
UNBOX_DIR=${UNBOX_DIR:-$(dirname "$here")}
changes=0

did() {
	echo "provision: $*"
	changes=$((changes + 1))
}
ok() { echo "provision: ok: $*"; }
die() {
	echo "provision: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "run me as root (vagrant does: sudo bash vagrant/provision.sh)"
export DEBIAN_FRONTEND=noninteractive

# --- Debian/Ubuntu packages ---------------------------------------------
missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -qx 'install ok installed'; then
		missing+=("$p")
	fi
done
if [ "${#missing[@]}" -gt 0 ]; then
	log=$(mktemp)
	if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		die "could not install ${missing[*]} (apt-get's output above)"
	fi
	rm -f "$log"
	did "installed ${missing[*]}"
else
	ok "packages: ${PACKAGES[*]}"
fi

# --- Go ----------------------------------------------------------------------
# version_ge A B: A >= B, as version numbers (1.26.8 >= 1.26.0 >= 1.26).
version_ge() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n 1)" = "$2" ]; }

required=$GO_VERSION
if [ -f "$UNBOX_DIR/go.mod" ]; then
	required=$(awk '$1 == "go" { print $2; exit }' "$UNBOX_DIR/go.mod")
	[ -n "$required" ] || die "$UNBOX_DIR/go.mod has no go line"
fi
version_ge "$GO_VERSION" "$required" ||
	die "go.mod asks for Go $required but this script pins $GO_VERSION: update GO_VERSION and GO_SHA256"

arch=$(dpkg --print-architecture)
# go_version DIR: the version of the Go in DIR ("1.26.8"), or nothing. It
# runs the go command, so that a broken tree is not taken for a Go, with a
# throw-away home where telemetry is off: go would otherwise write counters
# under ~/.config (and start a child to write more), and a second run must
# change nothing.
go_version() {
	[ -x "$1/bin/go" ] || return 0
	local home v
	home=$(mktemp -d)
	mkdir -p "$home/go/telemetry"
	echo off >"$home/go/telemetry/mode"
	v=$(cd / && HOME=$home XDG_CONFIG_HOME=$home GOTOOLCHAIN=local "$1/bin/go" env GOVERSION 2>/dev/null) || v=""
	rm -rf "$home"
	echo "${v#go}"
}
have=$(go_version "$GOROOT_DIR")
if [ -n "$have" ] && version_ge "$have" "$required"; then
	ok "Go $have in $GOROOT_DIR (go.mod asks for $required)"
else
	sha=${GO_SHA256[$arch]:-}
	[ -n "$sha" ] || die "no Go archive pinned for $arch (amd64 and arm64 are)"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp" "$GOROOT_DIR.new"' EXIT
	archive=${UNBOX_GO_TARBALL:-}
	if [ -z "$archive" ]; then
		url="https://go.dev/dl/go$GO_VERSION.linux-$arch.tar.gz"
		echo "provision: downloading $url"
		curl -fsSL --retry 3 -o "$tmp/go.tar.gz" "$url"
		archive=$tmp/go.tar.gz
	fi
	if ! echo "$sha  $archive" | sha256sum -c --quiet - >/dev/null 2>&1; then
		die "$archive is not go$GO_VERSION.linux-$arch.tar.gz: its SHA-256 is not $sha; nothing installed"
	fi
	# Unpack next to the old tree, then swap: never half a Go in place.
	rm -rf "$GOROOT_DIR.new"
	mkdir "$GOROOT_DIR.new"
	tar -C "$GOROOT_DIR.new" --strip-components=1 -xzf "$archive"
	[ "$(go_version "$GOROOT_DIR.new")" = "$GO_VERSION" ] || die "the unpacked archive is not a working Go $GO_VERSION"
	rm -rf "$GOROOT_DIR"
	mv "$GOROOT_DIR.new" "$GOROOT_DIR"
	if [ -n "$have" ]; then
		did "replaced Go $have with $GO_VERSION in $GOROOT_DIR (go.mod asks for $required; SHA-256 checked)"
	else
		did "installed Go $GO_VERSION in $GOROOT_DIR (SHA-256 checked)"
	fi
fi

# --- the login environment ------------------------------------------------
# Go on every login's PATH; `vagrant ssh` lands in the repository.
# The cd is for the user whose home holds the repository (vagrant), in an
# interactive shell that starts at home.
profile=$(
	cat <<EOF
# Written by unbox's vagrant/provision.sh.
export PATH="$GOROOT_DIR/bin:\$PATH"
if [ -n "\${PS1-}" ] && [ "\$PWD" = "\$HOME" ] && [ -d "$UNBOX_DIR" ]; then
	case "$UNBOX_DIR" in "\$HOME"/*) cd "$UNBOX_DIR" ;; esac
fi
EOF
)
if [ "$(cat "$PROFILE" 2>/dev/null)" != "$profile" ]; then
	printf '%s\n' "$profile" >"$PROFILE"
	did "wrote $PROFILE (Go on PATH; vagrant ssh starts in $UNBOX_DIR)"
else
	ok "$PROFILE"
fi

# --- unprivileged user namespaces ----------------------------------------------
# Ubuntu 24.04 lets only AppArmor-profiled programs create user namespaces
# as an ordinary user; lesson 01's user-namespace step is about doing
# exactly that. This is a throw-away lab VM: allow it. The "-" makes the
# setting optional, for kernels without the switch.
conf="# Written by unbox's vagrant/provision.sh: lesson 01 creates a user
# namespace as an ordinary user (go run ./lessons/01-namespaces --only 7).
-kernel.apparmor_restrict_unprivileged_userns = 0"
if [ "$(cat "$USERNS_CONF" 2>/dev/null)" != "$conf" ]; then
	mkdir -p "$(dirname "$USERNS_CONF")"
	printf '%s\n' "$conf" >"$USERNS_CONF"
	did "wrote $USERNS_CONF (unprivileged user namespaces allowed)"
else
	ok "$USERNS_CONF"
fi
# Apply it now, on the running kernel, but not from a chroot (CI runs this
# script in one): the kernel there is the host's.
knob=/proc/sys/kernel/apparmor_restrict_unprivileged_userns
in_chroot=false
if [ "$(stat -c %d:%i /)" != "$(stat -c %d:%i /proc/1/root/. 2>/dev/null || stat -c %d:%i /)" ]; then
	in_chroot=true
fi
if [ -w "$knob" ] && ! $in_chroot && [ "$(cat "$knob")" != 0 ]; then
	echo 0 >"$knob"
	did "set kernel.apparmor_restrict_unprivileged_userns = 0 on the running kernel"
fi

# --- Go modules -----------------------------------------------------------
# Downloaded once, into the module cache of the user who owns the
# repository (vagrant; they run `go run` and `go test`), so that a VM
# provisioned with network works without it: a workshop room's box. Skipped
# when UNBOX_DIR is not the repository, only a go.mod without its go.sum
# (CI's chroot test of this script has no more).
gosum=$UNBOX_DIR/go.sum
if [ ! -f "$UNBOX_DIR/go.mod" ]; then
	ok "Go modules: skipped, $UNBOX_DIR has no go.mod (not the repository)"
elif [ ! -f "$gosum" ]; then
	ok "Go modules: skipped, $UNBOX_DIR has a go.mod but no go.sum (not the whole repository)"
else
	owner=$(stat -c %U "$UNBOX_DIR")
	owner_home=$(getent passwd "$owner" | cut -d: -f6)
	if [ -z "$owner_home" ] || [ ! -d "$owner_home" ]; then
		die "$UNBOX_DIR belongs to $owner, who has no home directory for a module cache"
	fi
	# go as the owner, in the repository, with the Go installed above; its
	# settings in a throw-away directory with telemetry off, so that
	# asking changes nothing (as in go_version).
	cfg=$(mktemp -d)
	mkdir -p "$cfg/go/telemetry"
	echo off >"$cfg/go/telemetry/mode"
	chown -R "$owner" "$cfg"
	go_as_owner() {
		local pass=() v
		for v in GOPROXY GOSUMDB GONOSUMDB GOPRIVATE GOINSECURE; do
			[ -z "${!v:-}" ] || pass+=("$v=${!v}")
		done
		(cd "$UNBOX_DIR" && runuser -u "$owner" -- env -i PATH="$GOROOT_DIR/bin:/usr/bin:/bin" \
			HOME="$owner_home" XDG_CONFIG_HOME="$cfg" GOTOOLCHAIN=local \
			"${pass[@]}" "$@" "$GOROOT_DIR/bin/go" mod download)
	}
	cache="$owner_home/go/pkg/mod"
	if go_as_owner GOPROXY=off >/dev/null 2>&1; then
		ok "Go modules of go.sum in $cache"
	else
		log=$(mktemp)
		if ! go_as_owner >"$log" 2>&1; then
			cat "$log" >&2
			rm -rf "$log" "$cfg"
			die "could not download the Go modules as $owner (go's output above); without a network, copy a module cache in (WORKSHOP.md)"
		fi
		rm -f "$log"
		did "downloaded the Go modules of go.sum into $cache (as $owner: the lessons build offline)"
	fi
	rm -rf "$cfg"
fi

if [ "$changes" -eq 0 ]; then
	echo "provision: nothing to change"
else
	echo "provision: done, $changes changes"
fi
