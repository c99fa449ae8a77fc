package volume

import "fmt"

// Op says what a traced [Event] did to the store.
type Op string

// What the store does on disk.
const (
	OpCreate Op = "create" // a new volume: its directory and _data
	OpCopyUp Op = "copy"   // the image's content copied into a new volume
	OpRemove Op = "remove" // a volume and everything in it removed
)

// Event is one change the store made, right after it was made.
type Event struct {
	Op Op
	// Name is the volume's.
	Name string
	// Command is the shell command a person would type for it.
	Command string
}

func (e Event) String() string { return e.Command }

// Tracer, when not nil, hears each [Event]. Lessons print them.
type Tracer func(Event)

func (t Tracer) add(op Op, name, format string, args ...any) {
	if t != nil {
		t(Event{Op: op, Name: name, Command: fmt.Sprintf(format, args...)})
	}
}
