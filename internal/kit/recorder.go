package kit

import (
	"bytes"
	"context"
	"slices"
)

// Recorder keeps what a lesson narrated, as the English formats and
// arguments it gave, for a test of a translation: which keys had no
// translation ([Recorder.Missing]), and the same run told in English
// ([Recorder.English]), which must be the English transcript: the same
// steps, commands and evidence in both languages. Attach one with
// [WithRecorder]; kittest's RunIn does.
type Recorder struct {
	events  []Event
	missing []string
	n       *Narrator
}

type recorderKey struct{}

// WithRecorder returns a context that makes [Run] record its narration into
// r.
func WithRecorder(ctx context.Context, r *Recorder) context.Context {
	return context.WithValue(ctx, recorderKey{}, r)
}

func recorderFrom(ctx context.Context) *Recorder {
	r, _ := ctx.Value(recorderKey{}).(*Recorder)
	return r
}

// attach makes n record into r.
func (r *Recorder) attach(n *Narrator) {
	if r == nil {
		return
	}
	n.rec, r.n = r, n
}

func (r *Recorder) miss(key string) {
	if !slices.Contains(r.missing, key) {
		r.missing = append(r.missing, key)
	}
}

// Missing lists the keys the run looked up and found no translation for, in
// the order first seen.
func (r *Recorder) Missing() []string { return slices.Clone(r.missing) }

// Events are what was narrated, in order.
func (r *Recorder) Events() []Event { return slices.Clone(r.events) }

// English is the recorded run narrated again in English, without colour:
// what the same run prints without --lang.
func (r *Recorder) English() string {
	var b bytes.Buffer
	en := NewNarrator(&b, false)
	en.english = map[string]fragment{}
	if r.n != nil {
		en.english = r.n.frags
	}
	for _, ev := range r.events {
		en.render(ev)
	}
	return b.String()
}
