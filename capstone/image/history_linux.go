package image

import (
	"time"
)

// Step is one entry of an image's history, as `unbox history` shows it:
// newest first, with the size of the layer it made (0 for a step that
// changed only the config).
type Step struct {
	Created   time.Time
	CreatedBy string
	Comment   string
	Size      int64
	// Layer reports whether the step made a layer.
	Layer bool
}

// History lists img's steps, newest first. An image without history
// entries (made by a tool that writes none) gets one per layer.
func (img Image) History() []Step {
	layers := img.Manifest.Layers
	var out []Step
	li := 0
	for _, h := range img.Config.History {
		st := Step{CreatedBy: h.CreatedBy, Comment: h.Comment}
		if h.Created != nil {
			st.Created = *h.Created
		}
		if !h.EmptyLayer && li < len(layers) {
			st.Size, st.Layer = layers[li].Size, true
			li++
		}
		out = append(out, st)
	}
	for ; li < len(layers); li++ {
		out = append(out, Step{Size: layers[li].Size, Layer: true, Created: img.Created()})
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}
