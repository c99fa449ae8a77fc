//go:build linux

package main

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/creack/pty"

	"github.com/unboxlab/unbox/capstone/image"
)

// pullEvents are a pull's events as the store sends them: one layer
// present, one downloaded in chunks, then a mirror's failure (an event of
// the image, without a layer).
var pullEvents = []image.Event{
	{ID: "aaaaaaaaaaaa", Status: image.StatusAlreadyExists, Current: 10, Total: 10},
	{ID: "bbbbbbbbbbbb", Status: image.StatusWaiting, Total: 3 << 20},
	{ID: "bbbbbbbbbbbb", Status: image.StatusDownloading, Current: 1 << 20, Total: 3 << 20},
	{ID: "bbbbbbbbbbbb", Status: image.StatusDownloading, Current: 2 << 20, Total: 3 << 20},
	{ID: "bbbbbbbbbbbb", Status: image.StatusDownloaded, Current: 3 << 20, Total: 3 << 20},
	{ID: "bbbbbbbbbbbb", Status: image.StatusExtracting, Total: 3 << 20},
	{ID: "bbbbbbbbbbbb", Status: image.StatusPullComplete, Current: 3 << 20, Total: 3 << 20},
	// A late event of a finished layer changes nothing.
	{ID: "aaaaaaaaaaaa", Status: image.StatusDownloading, Current: 5, Total: 10},
}

// TestProgressPlainLines: into a pipe or a file, one line per change of a
// layer's status, never one per chunk, as Docker prints a pull there; the
// present layer says so.
func TestProgressPlainLines(t *testing.T) {
	var out bytes.Buffer
	v := newProgress(&out)
	for _, e := range pullEvents {
		v.event(e)
	}
	v.done()
	want := "aaaaaaaaaaaa: Already exists\n" +
		"bbbbbbbbbbbb: Waiting\n" +
		"bbbbbbbbbbbb: Downloading\n" +
		"bbbbbbbbbbbb: Download complete\n" +
		"bbbbbbbbbbbb: Extracting\n" +
		"bbbbbbbbbbbb: Pull complete\n"
	if out.String() != want {
		t.Errorf("plain progress =\n%s\nwant\n%s", out.String(), want)
	}
}

// TestProgressBarsOnATerminal: on a terminal (a pty here) each layer is a
// bar (mpb redraws them in place), ending in its last status, and not a
// line per event.
func TestProgressBarsOnATerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(tty, &pty.Winsize{Rows: 24, Cols: 100}); err != nil {
		t.Fatal(err)
	}
	read := make(chan string)
	go func() {
		b, _ := io.ReadAll(ptmx) // until the tty side is closed (EIO)
		read <- string(b)
	}()
	t.Setenv("TERM", "xterm")
	v := newProgress(tty)
	if v.p == nil {
		t.Fatal("newProgress(a terminal) draws plain lines; want bars")
	}
	if err := pty.Setsize(tty, &pty.Winsize{}); err != nil {
		t.Fatal(err)
	}
	if newProgress(tty).p != nil {
		t.Error("newProgress(a terminal of 0 columns) draws bars, which mpb does not show; want plain lines")
	}
	if err := pty.Setsize(tty, &pty.Winsize{Rows: 24, Cols: 100}); err != nil {
		t.Fatal(err)
	}
	for _, e := range pullEvents {
		v.event(e)
	}
	v.done()
	tty.Close()
	out := <-read
	for _, want := range []string{"aaaaaaaaaaaa: Already exists", "bbbbbbbbbbbb: Pull complete", "[=====", "]"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal progress lacks %q:\n%q", want, out)
		}
	}
	if strings.Contains(out, "bbbbbbbbbbbb: Downloading\r\n") {
		t.Errorf("terminal progress printed a plain line per event:\n%q", out)
	}
}
