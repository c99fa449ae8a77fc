package kit

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/fatih/color"
	"github.com/mattn/go-isatty"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// indent is the left margin of everything a step prints under its header.
const indent = "  "

// Narrator prints a lesson the same way everywhere: step headers, the shell
// command a person would type, the evidence, and which side of a namespace
// boundary a line was seen from. It colours only when asked to (see
// [ColorFor]); goldens and pipes get plain text.
type Narrator struct {
	w     io.Writer
	color bool

	header, command, note, inside, host, warn *color.Color
}

// NewNarrator returns a Narrator writing to w, coloured when useColor is true.
func NewNarrator(w io.Writer, useColor bool) *Narrator {
	mk := func(attrs ...color.Attribute) *color.Color {
		c := color.New(attrs...)
		// Decide per writer, not through fatih/color's global NoColor,
		// which looks at os.Stdout even when we write elsewhere.
		if useColor {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
		return c
	}
	return &Narrator{
		w:       w,
		color:   useColor,
		header:  mk(color.Bold, color.FgCyan),
		command: mk(color.FgYellow),
		note:    mk(color.Bold),
		inside:  mk(color.FgMagenta),
		host:    mk(color.FgBlue),
		warn:    mk(color.FgRed),
	}
}

// ColorFor reports whether output to w should be coloured: only when w is a
// terminal and the user has not set NO_COLOR (https://no-color.org), which is
// looked up through sudo as well (see [UserEnv]).
func ColorFor(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && useColor(isatty.IsTerminal(f.Fd()), UserEnv)
}

func useColor(terminal bool, lookup func(string) (string, bool)) bool {
	if !terminal {
		return false
	}
	if v, ok := lookup("NO_COLOR"); ok && v != "" {
		return false
	}
	if v, ok := lookup("TERM"); ok && v == "dumb" {
		return false
	}
	return true
}

// Writer is where the narration goes, for code that prints evidence itself.
func (n *Narrator) Writer() io.Writer { return n.w }

// Title prints the lesson's banner.
func (n *Narrator) Title(format string, args ...any) {
	n.header.Fprintf(n.w, format, args...)
	fmt.Fprintln(n.w)
}

// Step prints a step header and its explanation.
func (n *Narrator) Step(num, total int, title, explain string) {
	fmt.Fprintln(n.w)
	n.header.Fprintf(n.w, "Step %d/%d · %s", num, total, title)
	fmt.Fprintln(n.w)
	if explain != "" {
		n.Say("%s", explain)
	}
}

// Say prints explanation text, indented under the step header.
func (n *Narrator) Say(format string, args ...any) {
	n.lines("", nil, fmt.Sprintf(format, args...))
}

// Cmd prints the shell command a person would type for what the lesson is
// about to do in Go, preceded by a blank line so it stands out.
func (n *Narrator) Cmd(format string, args ...any) {
	fmt.Fprintln(n.w)
	for _, l := range strings.Split(fmt.Sprintf(format, args...), "\n") {
		fmt.Fprint(n.w, indent)
		n.command.Fprint(n.w, "$ "+l)
		fmt.Fprintln(n.w)
	}
}

// Show prints evidence: a file's contents, a syscall's result, verbatim.
func (n *Narrator) Show(format string, args ...any) {
	n.lines("", nil, fmt.Sprintf(format, args...))
}

// Inside prints evidence seen from inside the new namespaces.
func (n *Narrator) Inside(format string, args ...any) {
	n.lines("inside │ ", n.inside, fmt.Sprintf(format, args...))
}

// Host prints evidence seen from the host, outside the new namespaces.
func (n *Narrator) Host(format string, args ...any) {
	n.lines("host   │ ", n.host, fmt.Sprintf(format, args...))
}

// Note prints the conclusion a learner should draw from the evidence.
func (n *Narrator) Note(format string, args ...any) {
	fmt.Fprintln(n.w)
	n.lines("→ ", n.note, fmt.Sprintf(format, args...))
}

// Warn prints a problem that does not stop the lesson.
func (n *Narrator) Warn(format string, args ...any) {
	n.lines("! ", n.warn, fmt.Sprintf(format, args...))
}

// lines prints text line by line, each behind the indent and a label; empty
// text still prints one line so that "cat" of an empty file shows something.
func (n *Narrator) lines(label string, c *color.Color, text string) {
	text = strings.TrimRight(text, "\n")
	pad := strings.Repeat(" ", len([]rune(label)))
	for i, l := range strings.Split(text, "\n") {
		if l == "" && label == "" {
			fmt.Fprintln(n.w) // no trailing spaces on a blank line
			continue
		}
		fmt.Fprint(n.w, indent)
		lab := label
		if i > 0 {
			lab = pad
		}
		if c != nil {
			c.Fprint(n.w, lab)
		} else {
			fmt.Fprint(n.w, lab)
		}
		fmt.Fprintln(n.w, strings.TrimRight(l, " "))
	}
}

// Table prints rows under a header, in a fixed plain style so goldens do not
// churn with tablewriter's defaults.
func (n *Narrator) Table(header []string, rows [][]string) {
	n.lines("", nil, RenderTable(header, rows))
}

// RenderTable renders a table as plain text: left-aligned columns, a rule
// under the header, no borders, no trailing spaces.
func RenderTable(header []string, rows [][]string) string {
	var buf bytes.Buffer
	t := tablewriter.NewTable(&buf,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders: tw.BorderNone,
			Symbols: tw.NewSymbols(tw.StyleASCII),
			Settings: tw.Settings{
				Separators: tw.Separators{BetweenColumns: tw.Off, BetweenRows: tw.Off},
				Lines:      tw.Lines{ShowHeaderLine: tw.On},
			},
		})),
		tablewriter.WithConfig(tablewriter.Config{
			Header: tw.CellConfig{
				Formatting: tw.CellFormatting{AutoFormat: tw.Off},
				Alignment:  tw.CellAlignment{Global: tw.AlignLeft},
			},
			Row: tw.CellConfig{
				Formatting: tw.CellFormatting{AutoWrap: tw.WrapNone},
				Alignment:  tw.CellAlignment{Global: tw.AlignLeft},
			},
		}),
	)
	t.Header(header)
	for _, r := range rows {
		_ = t.Append(r)
	}
	_ = t.Render()
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	width, rule := 0, -1
	for i, l := range lines {
		l = strings.TrimPrefix(strings.TrimRight(l, " "), " ")
		lines[i] = l
		if l != "" && strings.Trim(l, "-") == "" {
			rule = i
		} else if n := len([]rune(l)); n > width {
			width = n
		}
	}
	if rule >= 0 {
		// The rule under the header spans the padded width; cut it to the
		// text so it does not run past the last column.
		lines[rule] = strings.Repeat("-", width)
	}
	return strings.Join(lines, "\n")
}
