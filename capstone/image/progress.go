package image

import (
	"io"
	"sync/atomic"

	digest "github.com/opencontainers/go-digest"
)

// Event is one step of a pull or push for one layer (or, with ID "", for
// the image), as Docker reports them: the layer's short digest, a status,
// and for transfers the bytes done of Total. The engine reports; the
// command line draws (bars on a terminal, lines elsewhere).
type Event struct {
	ID      string // 12 hexadecimal digits of the layer's digest; "" for the image
	Status  Status
	Current int64
	Total   int64
	// Detail says more, for a status that needs it (the endpoint a
	// failed mirror was, the error).
	Detail string
}

// Status is a step of a layer's transfer.
type Status string

// The steps, in Docker's words, so that a pull reads as Docker's does.
const (
	StatusWaiting          Status = "Waiting"
	StatusDownloading      Status = "Downloading"
	StatusDownloaded       Status = "Download complete"
	StatusAlreadyExists    Status = "Already exists"
	StatusExtracting       Status = "Extracting"
	StatusPullComplete     Status = "Pull complete"
	StatusPreparing        Status = "Preparing"
	StatusPushing          Status = "Pushing"
	StatusPushed           Status = "Pushed"
	StatusLayerExists      Status = "Layer already exists"
	StatusMirrorFailed     Status = "Mirror failed"
	StatusPullingFromImage Status = "Pulling from"
)

// ProgressFunc receives a pull's or push's events; it is called from
// several goroutines at once (layers move in parallel), and must not
// block for long.
type ProgressFunc func(Event)

func (p ProgressFunc) send(e Event) {
	if p != nil {
		p(e)
	}
}

// shortDigest is how a layer is named in events: Docker's 12 digits.
func shortDigest(d digest.Digest) string {
	e := d.Encoded()
	return e[:min(len(e), 12)]
}

// countingReader reports what has been read through it, at most every
// 256 KiB, and once at the end.
type countingReader struct {
	r        io.Reader
	n, last  atomic.Int64
	report   func(n int64)
	interval int64
}

func newCountingReader(r io.Reader, report func(n int64)) *countingReader {
	return &countingReader{r: r, report: report, interval: 256 << 10}
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	total := c.n.Add(int64(n))
	if total-c.last.Load() >= c.interval || (err != nil && total != c.last.Load()) {
		c.last.Store(total)
		c.report(total)
	}
	return n, err
}
