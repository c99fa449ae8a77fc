// Package image is unbox's image store: images in the OCI image-layout
// format (internal/ocilayout), so that skopeo, umoci and podman read it as
// it stands, and each layer unpacked once into a snapshot directory that
// every container of every image holding that layer stacks with overlayfs
// (internal/overlay), as lesson 04 shows.
//
//	/var/lib/unbox/images/            an OCI image layout
//	    oci-layout, index.json        the images; a name is the manifest's
//	                                  org.opencontainers.image.ref.name
//	                                  ("unbox/busybox:latest"); an image
//	                                  without a name is listed without one
//	    blobs/sha256/<hex>            manifests, configs, layers (gzip)
//	/var/lib/unbox/snapshots/
//	    sha256/<diff ID hex>/         one layer, unpacked (internal/layer)
//	    .lock                         held while a layer is unpacked
//
// An image's ID is the digest of its config, as Docker's is; ids and names
// are resolved as Docker resolves them (Store.Resolve): a name, a name and
// tag, a digest, or a unique prefix of an ID.
//
// # Snapshots
//
// A snapshot is keyed by the layer's diff ID (the digest of its
// uncompressed tar), not by its chain of parents as containerd's
// snapshotters key theirs: an overlay lower directory holds one layer's
// changes and its whiteouts in overlayfs's form, which mean the same on top
// of any stack, so one directory serves every image that holds the layer.
// Store.Snapshots unpacks what is missing (into a new directory, checked
// against the diff ID, renamed into place: internal/layer.Unpack) and
// returns the lower directories top first, ready for overlay.Layers.
//
// # Writers
//
// Everything that adds an image goes through the layout's blobs and then
// names a manifest: Store.Import (a file system tarball: `unbox image
// import`), Store.Commit (a container's upper directory on top of its
// image: `unbox commit`, and `unbox build`'s steps), Store.Builtin (the
// root filesystem fixture as unbox/busybox, made on first use without a
// network), and Store.Register (a manifest whose blobs a caller wrote with
// Layout().WriteBlob: a registry pull, or `unbox load`). A writer holds
// Store.Hold while its blobs are not yet named, so that a concurrent
// Store.Prune does not collect them.
//
// Removal (Store.Remove, Store.Prune) follows Docker: a name is untagged;
// an image goes with its last name unless a container uses it, and its
// blobs and snapshots go with the last image that holds them.
package image
