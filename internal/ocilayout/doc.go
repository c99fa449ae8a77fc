// Package ocilayout reads and writes images in the OCI image layout
// (image-spec, image-layout.md): a directory any OCI tool reads (skopeo,
// umoci, podman load, containerd import), of content-addressed blobs and
// an index of named manifests:
//
//	oci-layout                   {"imageLayoutVersion": "1.0.0"}
//	index.json                   the manifests, named by the annotation
//	                             org.opencontainers.image.ref.name
//	blobs/sha256/<hex>           every manifest, config and layer, named by
//	                             the SHA-256 of its bytes
//
// An image is a manifest (image-spec, manifest.md): its config blob and its
// layer blobs, bottom first. The config (config.md) says how to run it (the
// command, environment, working directory) and lists, under
// rootfs.diff_ids, the digest of each layer *uncompressed*, with a history
// entry per build step. [Layout.Image] follows that chain from a name to
// the layers to unpack, in order; [Image.WithLayer] and [Layout.WriteImage]
// add a layer on top, as `docker commit` does.
//
// Blobs are written atomically: into a temporary file in the blob
// directory, synced, then renamed to their digest, so a reader never sees
// half a blob under its name, and a write interrupted at any point leaves
// at most a temporary file. index.json is replaced the same way, under an
// flock(2) of the layout directory, so two writers do not lose each other's
// names. Every blob read is checked against its descriptor's size and
// digest: a blob that does not match is an error, never content.
//
// The types are github.com/opencontainers/image-spec's, and digests
// github.com/opencontainers/go-digest's, the libraries every OCI tool in Go
// uses. Only sha256 digests are written and read. What is left out: image
// indexes for several platforms inside the layout (the index.json lists
// single-platform manifests), garbage collection of unreferenced blobs,
// and compression other than gzip.
//
// Used by lesson 07 (the image it commits) and by the capstone's image
// store, which keeps its images in this format under /var/lib/unbox.
package ocilayout
