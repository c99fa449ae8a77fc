package kit

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/fatih/color"
	"github.com/mattn/go-isatty"
	"github.com/mattn/go-runewidth"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/pkg/twwidth"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// indent is the left margin of everything a step prints under its header.
const indent = "  "

// Columns is the widest line a lesson prints, in terminal columns (a CJK
// character takes two): transcripts are read in 100-column terminals and
// on GitHub, and kittest checks every golden file against it.
const Columns = 100

// width is the number of terminal columns s takes. East Asian "ambiguous"
// characters (│, →, ·, box drawing) count as one, as in nearly every
// terminal, whatever the locale: the same text always has the same width.
var width = (&runewidth.Condition{EastAsianWidth: false}).StringWidth

// Width is the number of terminal columns s takes: one per character, two
// for a wide (CJK) one.
func Width(s string) int { return width(s) }

// Wrap folds text at spaces into lines of at most width columns (as
// [Width] counts them; a word wider than that has a line of its own), so
// that evidence, a table cell or a list keeps within [Columns].
func Wrap(text string, width int) string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && Width(line)+1+Width(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return strings.Join(append(lines, line), "\n")
}

func init() {
	// tablewriter guesses the width of ambiguous characters from the
	// locale; fix it, so a table is laid out the same under LANG=zh_CN.
	twwidth.SetEastAsian(false)
}

// Narrator prints a lesson the same way everywhere: step headers, the shell
// command a person would type, the evidence, and which side of a namespace
// boundary a line was seen from. It colours only when asked to (see
// [ColorFor]); goldens and pipes get plain text. It narrates in one
// language: English, or the language of a catalog (see i18n.go); every
// method takes the English text, which is the key of its translation.
type Narrator struct {
	w     io.Writer
	color bool
	lang  string
	cat   Catalog
	// frags are the fragments [Narrator.T] made in this language, by the
	// text it returned, so that a recorder can show them in English.
	frags map[string]fragment
	rec   *Recorder
	// english resolves fragments of another narrator's language back to
	// English (a Recorder's English rendering).
	english map[string]fragment

	header, command, note, inside, host, warn, pass *color.Color
}

// fragment is what [Narrator.T] was asked to translate.
type fragment struct {
	Format  string
	Args    []any
	Literal bool
}

// NewNarrator returns a Narrator writing English to w, coloured when
// useColor is true.
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
		lang:    English,
		frags:   map[string]fragment{},
		header:  mk(color.Bold, color.FgCyan),
		command: mk(color.FgYellow),
		note:    mk(color.Bold),
		inside:  mk(color.FgMagenta),
		host:    mk(color.FgBlue),
		warn:    mk(color.FgRed),
		pass:    mk(color.Bold, color.FgGreen),
	}
}

// NewNarratorIn returns a Narrator writing to w, without colour, in lang
// with the lesson's catalog (the text of its PO file) and the kit's: for a
// test that needs a line as the lesson prints it in that language.
func NewNarratorIn(w io.Writer, lang, lessonPO string) (*Narrator, error) {
	n := NewNarrator(w, false)
	if lang == English {
		return n, nil
	}
	cat, err := catalogFor(&Lesson{Name: "test", Catalogs: map[string]string{lang: lessonPO}}, lang)
	if err != nil {
		return nil, err
	}
	n.setLanguage(lang, cat)
	return n, nil
}

// setLanguage makes n narrate in lang, with cat its translations (the kit's
// and the lesson's, merged).
func (n *Narrator) setLanguage(lang string, cat Catalog) {
	n.lang, n.cat = lang, cat
}

// Lang is the language n narrates in: "en" or "zh".
func (n *Narrator) Lang() string { return n.lang }

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
// What is written to it is printed as it is, untranslated.
func (n *Narrator) Writer() io.Writer { return rawWriter{n} }

type rawWriter struct{ n *Narrator }

func (r rawWriter) Write(p []byte) (int, error) {
	r.n.emit(Event{Kind: KindRaw, Text: string(p)})
	return len(p), nil
}

// Title prints the lesson's banner.
func (n *Narrator) Title(format string, args ...any) {
	n.emit(Event{Kind: KindTitle, Format: format, Args: args})
}

// Step prints a step header and its explanation.
func (n *Narrator) Step(num, total int, title, explain string) {
	n.emit(Event{Kind: KindStep, Num: num, Total: total, Title: title, Explain: explain})
}

// Say prints explanation text, indented under the step header.
func (n *Narrator) Say(format string, args ...any) {
	n.emit(Event{Kind: KindSay, Format: format, Args: args})
}

// Cmd prints the shell command a person would type for what the lesson is
// about to do in Go, preceded by a blank line so it stands out. A line that
// is all comment (`# ...`) describes what the program does that no command
// does as such (a system call on its own, a step of a child). Each line of a
// command that spans several (folded with a backslash to fit the columns)
// has the prompt.
func (n *Narrator) Cmd(format string, args ...any) {
	n.emit(Event{Kind: KindCmd, Format: format, Args: args})
}

// Show prints evidence: a file's contents, a syscall's result, verbatim.
func (n *Narrator) Show(format string, args ...any) {
	n.emit(Event{Kind: KindShow, Format: format, Args: args})
}

// Inside prints evidence seen from inside the new namespaces.
func (n *Narrator) Inside(format string, args ...any) {
	n.emit(Event{Kind: KindInside, Format: format, Args: args})
}

// Host prints evidence seen from the host, outside the new namespaces.
func (n *Narrator) Host(format string, args ...any) {
	n.emit(Event{Kind: KindHost, Format: format, Args: args})
}

// Note prints the conclusion a learner should draw from the evidence.
func (n *Narrator) Note(format string, args ...any) {
	n.emit(Event{Kind: KindNote, Format: format, Args: args})
}

// Warn prints a problem that does not stop the lesson.
func (n *Narrator) Warn(format string, args ...any) {
	n.emit(Event{Kind: KindWarn, Format: format, Args: args})
}

// Table prints rows under a header, in a fixed plain style so goldens do not
// churn with tablewriter's defaults. The header is translated; the rows are
// data (use [Narrator.T] for a cell that is words).
func (n *Narrator) Table(header []string, rows [][]string) {
	n.emit(Event{Kind: KindTable, Header: header, Rows: rows})
}

// T translates a fragment of text that the lesson prints as part of a line
// (a table cell, an argument of another line): format and args as for
// fmt.Sprintf, format being the key. Pass what it returns to the narrator
// as it is, not glued to other text, so a recorder can show the line in
// English too.
func (n *Narrator) T(format string, args ...any) string {
	text := n.text(KindFragment, format, args)
	if n.lang != English {
		n.frags[text] = fragment{Format: format, Args: args}
	}
	return text
}

// literal translates a text that is not a format (a title, a step's
// explanation held in a field).
func (n *Narrator) literal(text string) string {
	t := n.lookupWords(text)
	if n.lang != English {
		n.frags[t] = fragment{Format: text, Literal: true}
	}
	return t
}

// EventKind says which method printed an [Event].
type EventKind string

// The kinds of Event.
const (
	KindTitle    EventKind = "title"
	KindStep     EventKind = "step"
	KindSay      EventKind = "say"
	KindCmd      EventKind = "cmd"
	KindShow     EventKind = "show"
	KindInside   EventKind = "inside"
	KindHost     EventKind = "host"
	KindNote     EventKind = "note"
	KindWarn     EventKind = "warn"
	KindTable    EventKind = "table"
	KindRaw      EventKind = "raw"
	KindFragment EventKind = "fragment" // Narrator.T, never printed alone
)

// Event is one thing a Narrator printed, as the lesson gave it: the English
// format and its arguments, before translation.
type Event struct {
	Kind   EventKind
	Format string
	Args   []any
	// A step's header.
	Num, Total     int
	Title, Explain string
	// A table.
	Header []string
	Rows   [][]string
	// What was written to Writer.
	Text string
}

func (n *Narrator) emit(ev Event) {
	if n.rec != nil {
		n.rec.events = append(n.rec.events, ev)
	}
	n.render(ev)
}

// render prints ev in n's language.
func (n *Narrator) render(ev Event) {
	switch ev.Kind {
	case KindTitle:
		n.header.Fprint(n.w, n.text(ev.Kind, ev.Format, ev.Args))
		fmt.Fprintln(n.w)
	case KindStep:
		fmt.Fprintln(n.w)
		n.header.Fprint(n.w, n.text(KindStep, "Step %d/%d · %s", []any{ev.Num, ev.Total, n.lookupWords(ev.Title)}))
		fmt.Fprintln(n.w)
		if ev.Explain != "" {
			n.lines("", nil, n.lookupWords(ev.Explain))
		}
	case KindSay, KindShow:
		n.lines("", nil, n.text(ev.Kind, ev.Format, ev.Args))
	case KindCmd:
		fmt.Fprintln(n.w)
		for _, l := range strings.Split(n.text(ev.Kind, ev.Format, ev.Args), "\n") {
			fmt.Fprint(n.w, indent)
			n.command.Fprint(n.w, "$ "+l)
			fmt.Fprintln(n.w)
		}
	case KindInside:
		n.lines(n.label("inside"), n.inside, n.text(ev.Kind, ev.Format, ev.Args))
	case KindHost:
		n.lines(n.label("host"), n.host, n.text(ev.Kind, ev.Format, ev.Args))
	case KindNote:
		fmt.Fprintln(n.w)
		n.lines("→ ", n.note, n.text(ev.Kind, ev.Format, ev.Args))
	case KindWarn:
		n.lines("! ", n.warn, n.text(ev.Kind, ev.Format, ev.Args))
	case KindTable:
		header := make([]string, len(ev.Header))
		for i, h := range ev.Header {
			header[i] = n.lookupWords(h)
		}
		rows := ev.Rows
		if n.english != nil {
			rows = make([][]string, len(ev.Rows))
			for i, r := range ev.Rows {
				rows[i] = make([]string, len(r))
				for j, c := range r {
					rows[i][j] = n.englishString(c)
				}
			}
		}
		n.lines("", nil, RenderTable(header, rows))
	case KindRaw:
		io.WriteString(n.w, ev.Text)
	}
}

// label is the evidence label of a side, "inside │ " or "host   │ ", each
// padded to the wider one of the language.
func (n *Narrator) label(side string) string {
	in, host := n.lookupWords("inside"), n.lookupWords("host")
	w := max(width(in), width(host))
	l := in
	if side == "host" {
		l = host
	}
	return l + strings.Repeat(" ", w-width(l)) + " │ "
}

// text is format and args rendered in n's language.
func (n *Narrator) text(kind EventKind, format string, args []any) string {
	args = n.englishArgs(args)
	key, literal := n.keyOf(kind, format, args)
	if key != "" {
		if t, ok := n.lookup(key); ok {
			if literal {
				return t
			}
			return fmt.Sprintf(t, args...)
		}
	}
	return fmt.Sprintf(format, args...)
}

// keyOf is the catalog key of a line, if it has one (see i18n.go). literal
// says the key is the argument of "%s", to be replaced whole.
func (n *Narrator) keyOf(kind EventKind, format string, args []any) (key string, literal bool) {
	switch kind {
	case KindCmd:
		if strings.Contains(format, "#") {
			return format, false
		}
		return "", false
	case KindTitle, KindStep, KindSay, KindNote, KindWarn:
		if hasWords(format) {
			return format, false
		}
		if format == "%s" && len(args) == 1 {
			if s, ok := args[0].(string); ok && hasWords(s) {
				if _, made := n.frags[s]; !made {
					return s, true
				}
			}
		}
		return "", false
	}
	if hasWords(format) {
		return format, false
	}
	return "", false
}

// lookupWords translates a text that is not a format: a step's title or
// explanation, a table's header cell.
func (n *Narrator) lookupWords(text string) string {
	if n.english != nil {
		return n.englishString(text)
	}
	if !hasWords(text) {
		return text
	}
	if _, made := n.frags[text]; made {
		return text
	}
	if t, ok := n.lookup(text); ok {
		return t
	}
	return text
}

// lookup finds key's translation in n's language; a miss in a language
// other than English is noted for the recorder.
func (n *Narrator) lookup(key string) (string, bool) {
	if n.lang == English {
		return "", false
	}
	if t, ok := n.cat[key]; ok {
		return t, true
	}
	if n.rec != nil {
		n.rec.miss(key)
	}
	return "", false
}

// englishArgs replaces, when n renders another narrator's events in
// English, the fragments that narrator translated with their English.
func (n *Narrator) englishArgs(args []any) []any {
	if n.english == nil {
		return args
	}
	out := make([]any, len(args))
	for i, a := range args {
		if s, ok := a.(string); ok {
			out[i] = n.englishString(s)
		} else {
			out[i] = a
		}
	}
	return out
}

func (n *Narrator) englishString(s string) string {
	f, ok := n.english[s]
	if !ok {
		return s
	}
	if f.Literal {
		return f.Format
	}
	return fmt.Sprintf(f.Format, n.englishArgs(f.Args)...)
}

// lines prints text line by line, each behind the indent and a label; empty
// text still prints one line so that "cat" of an empty file shows something.
func (n *Narrator) lines(label string, c *color.Color, text string) {
	text = strings.TrimRight(text, "\n")
	pad := strings.Repeat(" ", width(label))
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
	w, rule := 0, -1
	for i, l := range lines {
		l = strings.TrimPrefix(strings.TrimRight(l, " "), " ")
		lines[i] = l
		if l != "" && strings.Trim(l, "-") == "" {
			rule = i
		} else if n := width(l); n > w {
			w = n
		}
	}
	if rule >= 0 {
		// The rule under the header spans the padded width; cut it to the
		// text so it does not run past the last column.
		lines[rule] = strings.Repeat("-", w)
	}
	return strings.Join(lines, "\n")
}
