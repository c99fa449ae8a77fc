package engine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// logEntry is one line of a container's log, Docker's json-file format:
// {"log":"hello\n","stream":"stdout","time":"2024-05-01T10:00:00.123456789Z"}.
type logEntry struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// maxLogLine is where a line without a newline is cut into a log entry of
// its own, as Docker cuts at 16 KiB.
const maxLogLine = 16 << 10

// jsonLog writes a container's output to its log, line by line, and
// passes every chunk on to the attached clients.
type jsonLog struct {
	mu  sync.Mutex
	f   *os.File
	hub *hub
}

func openLog(path string, h *hub) (*jsonLog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the container's log: %w", err)
	}
	return &jsonLog{f: f, hub: h}, nil
}

func (l *jsonLog) entry(stream string, line []byte) {
	b, _ := json.Marshal(logEntry{Log: string(line), Stream: stream, Time: time.Now().UTC()})
	l.mu.Lock()
	l.f.Write(append(b, '\n'))
	l.mu.Unlock()
}

func (l *jsonLog) Close() error { return l.f.Close() }

// pump copies one of the container's streams (a pipe, or a terminal's
// master) into the log and to the clients until it ends.
func (l *jsonLog) pump(r io.Reader, stream string, frame byte) {
	var pending []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			l.hub.output(frame, chunk)
			pending = append(pending, chunk...)
			for {
				i := bytes.IndexByte(pending, '\n')
				if i < 0 && len(pending) < maxLogLine {
					break
				}
				if i < 0 || i >= maxLogLine {
					i = maxLogLine - 1
				}
				l.entry(stream, pending[:i+1])
				pending = pending[i+1:]
			}
		}
		if err != nil {
			break
		}
	}
	if len(pending) > 0 {
		l.entry(stream, pending)
	}
}

// LogOptions are `unbox logs`' flags.
type LogOptions struct {
	Follow     bool
	Tail       int // -1: all
	Timestamps bool
	// Since and Until, when set, keep the entries logged from Since and
	// before Until (--since, --until); Tail counts what they keep. A
	// follow ends at Until.
	Since, Until time.Time
}

// keeps says whether en is in o's time window.
func (o LogOptions) keeps(en logEntry) bool {
	return (o.Since.IsZero() || !en.Time.Before(o.Since)) && (o.Until.IsZero() || en.Time.Before(o.Until))
}

// Logs writes the container's log to stdout and stderr, each entry to the
// stream it came from, as `docker logs` does; with Follow it goes on
// until the container stops or ctx ends.
func (e *Engine) Logs(ctx context.Context, ref string, o LogOptions, stdout, stderr io.Writer) error {
	c, err := e.Lookup(ref)
	if err != nil {
		return err
	}
	f, err := os.Open(c.LogPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil // never started
	}
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	print := func(en logEntry) {
		w := stdout
		if en.Stream == "stderr" {
			w = stderr
		}
		if o.Timestamps {
			fmt.Fprintf(w, "%s %s", en.Time.UTC().Format(time.RFC3339Nano), en.Log)
			return
		}
		io.WriteString(w, en.Log)
	}
	// What is there now, the last Tail entries of it.
	var entries []logEntry
	var partial []byte
	readAll := func(keep bool) {
		for {
			line, err := r.ReadBytes('\n')
			if err != nil {
				partial = append(partial, line...)
				return
			}
			if len(partial) > 0 {
				line, partial = append(partial, line...), nil
			}
			var en logEntry
			if json.Unmarshal(line, &en) != nil || !o.keeps(en) {
				continue
			}
			if keep {
				entries = append(entries, en)
				if o.Tail >= 0 && len(entries) > o.Tail {
					entries = entries[1:]
				}
			} else {
				print(en)
			}
		}
	}
	readAll(true)
	for _, en := range entries {
		print(en)
	}
	if !o.Follow {
		return nil
	}
	for {
		running := e.monitorAlive(c.ID)
		readAll(false)
		if !running || (!o.Until.IsZero() && time.Now().After(o.Until)) {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}
