// Package build is `unbox build`: a Dockerfile executed step by step, the
// way lesson 07 shows an image being made by hand. Each step starts from
// the image the step before made and makes a new one:
//
//	FROM unbox/busybox            the base: an image of the store, pulled if it is
//	                              not here (Options.Base), or scratch
//	WORKDIR /app                  a layer if the directory is new
//	COPY package.json ./          a layer: the files, from the context
//	RUN make                      a container of the image so far runs the
//	                              command; its changes are committed as a layer
//	ENV PORT=8080                 the config changes; no layer
//	CMD ["./server"]
//
// RUN goes through the engine (capstone/engine): a container is created
// from the image so far, started through the OCI runtime with its output
// shown, committed (engine.Commit: its upper directory, less the init
// layer and its volumes, as one more layer) and removed. COPY and ADD
// mount the image so far as an overlay with a fresh upper directory
// (internal/overlay), write the files into it, and commit the upper
// directory the same way (image.Store.Commit). Steps that change only the
// config write a new config and manifest, with an empty-layer history
// entry, as Docker's builder does.
//
// The Dockerfile is read by buildkit's parser (the one `docker build`
// uses): its syntax, line continuations, heredocs, escapes and variable
// expansion are Docker's, and its errors name the line.
//
// # The build context
//
// The context is read where it lies (no daemon, so nothing is sent
// anywhere), one file at a time, never whole into memory. It is a
// security boundary: a COPY source is resolved beneath the context
// directory (openat2(2) RESOLVE_BENEATH), so a `..` or a symlink that
// leads out of it is refused, not followed; everything below the source
// is opened relative to its directory with O_NOFOLLOW, and symlinks inside
// the copied tree are copied as symlinks. The files land in the image
// through internal/layer's extraction, which resolves every path inside
// the image's root. .dockerignore is honoured with Docker's own pattern
// matcher (moby/patternmatcher).
//
// # The cache
//
// Every step's result is recorded under <root>/build/cache, keyed by the
// parent image's ID, the instruction after expansion, the build arguments
// it sees and, for COPY and ADD, the digest of the files copied (their
// content, names, modes and owners; not their times). A rebuild whose
// step finds its key, and the image it names still in the store, reuses
// that image (CACHED) instead of running the step; --no-cache skips the
// lookup. Pruning the images without a name (`unbox image prune`) clears
// the cache, as `docker builder prune` does.
package build
