//go:build linux

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/unboxlab/unbox/capstone/container"
)

// logError reports err as runc does. Without --log it goes to stderr as a
// logfmt line, time="..." level=error msg="...". With --log it is written
// to that file (a JSON line with --log-format json: containerd's shim and
// conmon read the last error from it) and the bare message to stderr.
func (g *globals) logError(stderr io.Writer, err error) {
	g.log(stderr, "error", err.Error())
}

// logWarning reports what failed without failing the command (a poststart
// or poststop hook).
func (g *globals) logWarning(stderr io.Writer, err error) {
	g.log(stderr, "warning", err.Error())
}

func (g *globals) log(stderr io.Writer, level, msg string) {
	now := time.Now().UTC().Format(time.RFC3339)
	if g.logPath == "" {
		fmt.Fprintf(stderr, "time=%q level=%s msg=%s\n", now, level, strconv.Quote(msg))
		return
	}
	var line []byte
	if g.logFormat == "json" {
		line, _ = json.Marshal(struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Time  string `json:"time"`
		}{level, msg, now})
	} else {
		line = []byte(fmt.Sprintf("time=%q level=%s msg=%s", now, level, strconv.Quote(msg)))
	}
	f, err := os.OpenFile(g.logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err == nil {
		f.Write(append(line, '\n'))
		f.Close()
	}
	if level == "error" {
		fmt.Fprintln(stderr, msg)
	}
}

// warnHooks logs a hook warning and drops it; any other error stays.
func (g *globals) warnHooks(stderr io.Writer, err error) error {
	var w *container.HookWarning
	if errors.As(err, &w) {
		g.logWarning(stderr, w)
		return nil
	}
	return err
}
