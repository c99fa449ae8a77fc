//go:build linux

package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/mattn/go-isatty"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/unboxlab/unbox/capstone/image"
)

// progressView draws a pull's or push's events (image.Event): on a
// terminal a bar per layer (github.com/vbauerster/mpb, which redraws the
// bars in place); elsewhere one plain line per change of a layer's status,
// never one per chunk of bytes, as Docker prints them into a pipe.
type progressView struct {
	w      io.Writer
	mu     sync.Mutex
	p      *mpb.Progress // nil: plain lines
	bars   map[string]*mpb.Bar
	labels map[string]*atomic.Value
	state  map[string]image.Status
	order  []string
}

// final statuses end a layer's bar.
var finalStatus = map[image.Status]bool{
	image.StatusAlreadyExists: true, image.StatusPullComplete: true,
	image.StatusPushed: true, image.StatusLayerExists: true,
}

// newProgress draws on w, with bars if w is a terminal that has a width
// (mpb draws nothing on one of zero columns, as a pty nobody sized has).
func newProgress(w io.Writer) *progressView {
	v := &progressView{w: w, bars: map[string]*mpb.Bar{}, labels: map[string]*atomic.Value{}, state: map[string]image.Status{}}
	if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) && os.Getenv("TERM") != "dumb" {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			v.p = mpb.New(mpb.WithOutput(w), mpb.WithWidth(40))
		}
	}
	return v
}

// event is an image.ProgressFunc.
func (v *progressView) event(e image.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if e.ID == "" {
		v.println(fmt.Sprintf("%s: %s", e.Status, e.Detail))
		return
	}
	prev, seen := v.state[e.ID]
	if seen && finalStatus[prev] {
		return
	}
	v.state[e.ID] = e.Status
	if !seen {
		v.order = append(v.order, e.ID)
	}
	if v.p == nil {
		if prev != e.Status {
			fmt.Fprintf(v.w, "%s: %s\n", e.ID, e.Status)
		}
		return
	}
	b := v.bars[e.ID]
	if b == nil {
		// The bar's goroutine reads the status while event holds v.mu
		// (and waits on the bar): it gets its own, lock-free.
		label := &atomic.Value{}
		label.Store(e.ID + ":")
		v.labels[e.ID] = label
		b = v.p.AddBar(0,
			mpb.PrependDecorators(decor.Any(func(decor.Statistics) string { return label.Load().(string) })),
			mpb.AppendDecorators(decor.OnComplete(decor.CountersKibiByte("% .1f / % .1f"), "")),
		)
		v.bars[e.ID] = b
	}
	v.labels[e.ID].Store(fmt.Sprintf("%s: %-20s", e.ID, e.Status))
	if e.Total > 0 {
		b.SetTotal(e.Total, false)
	}
	b.SetCurrent(e.Current)
	if finalStatus[e.Status] {
		b.SetTotal(-1, true)
	}
}

// println prints a line above the bars, or alone.
func (v *progressView) println(s string) {
	if v.p != nil {
		fmt.Fprintln(v.p, s)
		return
	}
	fmt.Fprintln(v.w, s)
}

// done ends the drawing: bars still open (an error stopped the transfer)
// are left as they are.
func (v *progressView) done() {
	if v.p == nil {
		return
	}
	v.mu.Lock()
	for _, id := range v.order {
		if b := v.bars[id]; b != nil && !b.Completed() {
			b.Abort(false)
		}
	}
	v.mu.Unlock()
	v.p.Wait()
}
