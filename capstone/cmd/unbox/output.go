//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/template"

	"github.com/fatih/color"
	"github.com/mattn/go-isatty"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
	"github.com/urfave/cli/v2"

	"github.com/unboxlab/unbox/capstone/engine"
)

// Colours: only where the output is a terminal and the user has not set
// NO_COLOR (https://no-color.org), so that pipes, files and tests get
// plain text.
var (
	colorError = color.New(color.FgRed, color.Bold)
	colorUp    = color.New(color.FgGreen)
	colorDown  = color.New(color.FgRed)
	colorDim   = color.New(color.Faint)
)

// colorful reports whether w is a terminal that wants colour.
func colorful(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	return isatty.IsTerminal(f.Fd())
}

// paint colours s for stderr, where errors go.
func (g *globals) paint(c *color.Color, s string) string {
	if !colorful(g.stderr) {
		return s
	}
	c.EnableColor()
	return c.Sprint(s)
}

// paintOut colours s for stdout.
func (g *globals) paintOut(c *color.Color, s string) string {
	if !colorful(g.stdout) {
		return s
	}
	c.EnableColor()
	return c.Sprint(s)
}

// table writes rows under header as Docker lays its tables out: left
// aligned columns, three spaces apart, no borders, no rule, no trailing
// spaces. tablewriter's style is set here, in full, so that the output
// does not change with its defaults.
func table(w io.Writer, header []string, rows [][]string) {
	var buf bytes.Buffer
	t := tablewriter.NewTable(&buf,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders: tw.BorderNone,
			Symbols: tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{
				Separators: tw.Separators{BetweenColumns: tw.Off, BetweenRows: tw.Off},
				Lines:      tw.Lines{ShowHeaderLine: tw.Off},
			},
		})),
		tablewriter.WithConfig(tablewriter.Config{
			Header: tw.CellConfig{
				Formatting: tw.CellFormatting{AutoFormat: tw.Off},
				Alignment:  tw.CellAlignment{Global: tw.AlignLeft},
				Padding:    tw.CellPadding{Global: tw.Padding{Left: "", Right: "   "}},
			},
			Row: tw.CellConfig{
				Formatting: tw.CellFormatting{AutoWrap: tw.WrapNone},
				Alignment:  tw.CellAlignment{Global: tw.AlignLeft},
				Padding:    tw.CellPadding{Global: tw.Padding{Left: "", Right: "   "}},
			},
		}),
	)
	t.Header(header)
	for _, r := range rows {
		_ = t.Append(r)
	}
	_ = t.Render()
	for _, l := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
		io.WriteString(w, strings.TrimRight(l, " ")+"\n")
	}
}

// inspectEach is every `inspect`: the command's arguments, each looked up
// by one, printed together as one JSON array (empty, not null, when none is
// found), and the errors of those not found after it.
func (g *globals) inspectEach(c *cli.Context, one func(e *engine.Engine, ref string) (any, error)) error {
	if err := needArgs(c, 1); err != nil {
		return err
	}
	e, err := g.engine()
	if err != nil {
		return err
	}
	var tmpl *template.Template
	if f := c.String("format"); f != "" {
		if tmpl, err = template.New("").Funcs(templateFuncs).Parse(f); err != nil {
			return fmt.Errorf("template parsing error: %w", err)
		}
	}
	out := []any{}
	var errs []error
	for _, ref := range c.Args().Slice() {
		v, err := one(e, ref)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if tmpl != nil {
			if err := printTemplate(g.stdout, tmpl, v); err != nil {
				return err
			}
			continue
		}
		out = append(out, v)
	}
	if tmpl == nil {
		if err := printJSON(g.stdout, out); err != nil {
			return err
		}
	}
	return errors.Join(errs...)
}

// templateFuncs are the functions Docker's --format templates have.
var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		var b bytes.Buffer
		err := jsonLine(&b, v)
		return strings.TrimSpace(b.String()), err
	},
	"join":  strings.Join,
	"split": strings.Split,
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"title": func(s string) string {
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
	"println": fmt.Sprintln,
}

// printTemplate writes v through tmpl and a newline, as `docker inspect
// --format` does. The template sees v as its JSON reads, the fields named
// as inspect prints them ({{.Id}}, {{.State.Health.Status}}), as Docker's
// does when a field is not a Go field of its type.
func printTemplate(w io.Writer, tmpl *template.Template, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // 1700000000, not 1.7e+09
	var m any
	if err := dec.Decode(&m); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, m); err != nil {
		return fmt.Errorf("template: %w", err)
	}
	buf.WriteByte('\n')
	_, err = w.Write(buf.Bytes())
	return err
}

// printJSON writes v as indented JSON, as `docker inspect` does.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "    ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// jsonLine writes v as one line of JSON (--format json).
func jsonLine(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// truncate shortens s to n characters with an ellipsis, as Docker's ps
// shortens commands.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
