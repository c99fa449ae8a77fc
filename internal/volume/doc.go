// Package volume keeps a container's data outside its union: the volumes
// of `docker run -v`, in a store directory the caller chooses, and the
// parsing of the -v flag itself.
//
// A container's writes go to its upper dir (internal/overlay), which is
// removed with the container and never shared. A volume is a directory of
// the host mounted over a path of the container (a bind mount, made by
// internal/mount), so writes there go past the union: no copy-up, kept
// after the container, shared by every container that mounts it. The -v
// flag names three kinds ([Kind]):
//
//	-v /srv/www:/usr/share/nginx/html   Bind: a host directory, by absolute path
//	-v data:/var/lib/postgresql/data    Named: a volume of the store, made on first use
//	-v /var/cache/app                   Anonymous: a new volume with a random ID
//
// [ParseSpec] reads a flag into a [Spec]; [Spec.Mounts] is what it mounts
// once its source has a host directory (mount.Bind: `mount --rbind`, a
// read-only remount with :ro, the propagation mode). --tmpfs is a mount
// with no directory at all: mount.ParseTmpfs.
//
// # The store
//
// A [Store] is a directory with one directory per volume, as Docker's
// local driver keeps /var/lib/docker/volumes:
//
//	<store>/data/_data           the volume: what containers see
//	<store>/data/volume.json     its record: anonymous or not, the containers using it
//	<store>/.lock                flock(2)ed by every change
//
// Every change is made under the lock; a record is replaced atomically
// (write, fsync, rename); a volume appears and disappears with one rename.
// [Open] clears what an interrupted change left, so two processes at once
// never corrupt the store, and a process killed at any point leaves whole
// volumes only. Lessons keep a store in their own temporary directory; the
// capstone keeps one at /var/lib/unbox/volumes.
//
// # A container's volumes
//
// [Store.Attach] does what `docker run` does with the -v flags before the
// container starts: check that every bind source exists, make the named
// volumes that are new and one anonymous volume per anonymous flag, record
// the container as a user of each, fill each volume mounted for the first
// time with the image's content at its target ([Store.CopyUp]), and return
// the mounts. [Store.Detach] is `docker rm`: the container stops using its
// volumes, and with removeAnonymous (rm -v, run --rm) its anonymous ones
// go. A volume no container uses is dangling ([Store.Dangling]);
// [Store.Prune] removes the anonymous ones, or all.
//
// # Copy-up, and the trees it must not leave
//
// A new volume mounted over a directory the image fills would hide that
// content; so Docker (and podman) copy it into the volume first, once. Both
// trees are untrusted: the image's, and a volume a container wrote. So the
// target is resolved inside the container's root (openat2(2)
// RESOLVE_IN_ROOT, through pathrs-lite: an image whose /data is a symlink to
// /etc copies the root's /etc, not the host's), every entry is opened from
// its parent's descriptor with O_NOFOLLOW, and a symlink is copied as a
// symlink. Removal renames a volume away and unlinks from descriptors
// (os.RemoveAll), so a symlink a container left in a volume is removed, not
// followed.
//
// Taught by: lesson 05 (volumes). Used by the capstone's engine for -v and
// `unbox volume create/ls/inspect/rm/prune`.
package volume
