//go:build linux

package specconv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Load reads bundle/config.json. Its errors say which file and, for a JSON
// mistake, which line.
func Load(bundle string) (*specs.Spec, error) {
	path := filepath.Join(bundle, "config.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open %s: no such file: is %s an OCI bundle? (`unbox-runtime spec` writes a config.json)", path, bundle)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return Parse(path, b)
}

// Parse decodes a config.json's text; name is for errors.
func Parse(name string, b []byte) (*specs.Spec, error) {
	var s specs.Spec
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("parse %s: %w", name, jsonError(b, err))
	}
	if dec.More() {
		return nil, fmt.Errorf("parse %s: more than one JSON value", name)
	}
	return &s, nil
}

// jsonError adds the line and column to a JSON syntax or type error.
func jsonError(b []byte, err error) error {
	var offset int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		offset = se.Offset
	case errors.As(err, &te):
		offset = te.Offset
	}
	if offset < 0 || offset > int64(len(b)) {
		return err
	}
	line := 1 + bytes.Count(b[:offset], []byte("\n"))
	col := offset - int64(bytes.LastIndexByte(b[:offset], '\n'))
	return fmt.Errorf("line %d, column %d: %w", line, col, err)
}
