//go:build linux

package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/engine"
)

// detachKeysFlag is --detach-keys, of run, start and attach.
func detachKeysFlag() cli.Flag {
	return &cli.StringFlag{Name: "detach-keys", Value: "ctrl-p,ctrl-q", Usage: "the key sequence that detaches from the container, which runs on: a character or ctrl-<value>, comma-separated"}
}

// detachKeys reads --detach-keys, Docker's ctrl-p,ctrl-q where a command
// has no such flag.
func detachKeys(c *cli.Context) ([]byte, error) {
	s := c.String("detach-keys")
	if s == "" {
		s = "ctrl-p,ctrl-q"
	}
	return parseDetachKeys(s)
}

// parseDetachKeys reads --detach-keys as Docker does: a comma-separated
// sequence, each a single character or ctrl-X, with X a letter or one
// of @ [ \ ] ^ _ (the ASCII control codes 0 to 31).
func parseDetachKeys(s string) ([]byte, error) {
	var keys []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1:
			keys = append(keys, k[0])
		case len(k) == 6 && strings.HasPrefix(strings.ToLower(k), "ctrl-"):
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				keys = append(keys, c-'a'+1)
			case c >= 'A' && c <= 'Z':
				keys = append(keys, c-'A'+1)
			case strings.IndexByte("@[\\]^_", c) >= 0:
				keys = append(keys, c-'@')
			default:
				return nil, fmt.Errorf("invalid detach keys (%s) provided: %q is no control key", s, k)
			}
		default:
			return nil, fmt.Errorf("invalid detach keys (%s) provided: want a character or ctrl-<value>, comma-separated", s)
		}
	}
	return keys, nil
}

// detachReader passes r through until keys arrive in a row, and then
// fails with engine.ErrDetached, once what came before them is handed
// out. The bytes of a partial match are held back, and passed on if the
// sequence breaks off or the input ends, as Docker's escape proxy does.
type detachReader struct {
	r        io.Reader
	keys     []byte
	matched  int    // keys[:matched] seen, held back
	pending  []byte // bytes to hand out before reading again
	detached bool   // keys seen: ErrDetached once pending is out
	err      error  // r's error, once pending is out
}

func (d *detachReader) Read(p []byte) (int, error) {
	for len(d.pending) == 0 {
		switch {
		case d.detached:
			return 0, engine.ErrDetached
		case d.err != nil:
			return 0, d.err
		}
		buf := make([]byte, max(len(p), 1))
		n, err := d.r.Read(buf)
		for _, b := range buf[:n] {
			if b == d.keys[d.matched] {
				if d.matched++; d.matched == len(d.keys) {
					d.detached = true
					break
				}
				continue
			}
			d.pending = append(d.pending, d.keys[:d.matched]...)
			d.matched = 0
			if b == d.keys[0] {
				d.matched = 1
				continue
			}
			d.pending = append(d.pending, b)
		}
		if err != nil && !d.detached {
			d.pending = append(d.pending, d.keys[:d.matched]...)
			d.matched, d.err = 0, err
		}
	}
	n := copy(p, d.pending)
	d.pending = d.pending[n:]
	return n, nil
}
