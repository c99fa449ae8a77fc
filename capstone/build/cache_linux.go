package build

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"

	"github.com/unboxlab/unbox/capstone/image"
	"github.com/unboxlab/unbox/internal/statefile"
)

// cache maps a step's key to the image it made: one small file per key
// under <root>/build/cache, named by the key's digest, holding the image's
// ID. An entry whose image is gone (pruned, removed) is a miss.
type cache struct {
	dir   string
	store *image.Store
}

func (c cache) path(key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(c.dir, hex.EncodeToString(sum[:]))
}

// get is the image cached under key, if it is still in the store.
func (c cache) get(key string) (image.Image, bool) {
	b, err := os.ReadFile(c.path(key))
	if err != nil {
		return image.Image{}, false
	}
	img, err := c.store.Resolve(strings.TrimSpace(string(b)))
	if err != nil {
		return image.Image{}, false
	}
	return img, true
}

// put records img under key (atomically: a reader sees the old entry or
// the new one).
func (c cache) put(key string, img image.Image) error {
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return err
	}
	return statefile.Write(c.path(key), []byte(img.ID.String()+"\n"), 0o600)
}

// Intermediate is the set of images the build cache under root (the
// engine's) records: a build's steps. `unbox images` leaves those without
// a name out unless asked (-a), as Docker leaves out intermediate images.
func Intermediate(root string) map[string]bool {
	out := map[string]bool{}
	dir := filepath.Join(root, "build", "cache")
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil {
			out[strings.TrimSpace(string(b))] = true
		}
	}
	return out
}
