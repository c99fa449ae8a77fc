package build

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Dockerfile is a parsed Dockerfile: its stages, the ARGs before the
// first FROM, and the parser's warnings.
type Dockerfile struct {
	Stages   []instructions.Stage
	MetaArgs []instructions.ArgCommand
	Warnings []string
	// EscapeToken is the escape character (`# escape=` directive).
	EscapeToken rune
}

// Parse reads a Dockerfile with buildkit's parser and checks that every
// instruction is one this builder runs: one it does not is an error that
// names it and its line, before anything is built.
func Parse(name string, src []byte) (*Dockerfile, error) {
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, located(name, err)
	}
	df := &Dockerfile{EscapeToken: res.EscapeToken}
	for _, w := range res.Warnings {
		line := ""
		if w.Location != nil {
			line = fmt.Sprintf(":%d", w.Location.Start.Line)
		}
		df.Warnings = append(df.Warnings, fmt.Sprintf("%s%s: %s", name, line, w.Short))
	}
	stages, meta, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, located(name, err)
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("%s: no FROM instruction: a Dockerfile starts its first stage with FROM", name)
	}
	for _, s := range stages {
		for _, c := range s.Commands {
			if err := supported(c); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", name, line(c.Location()), err)
			}
		}
	}
	df.Stages, df.MetaArgs = stages, meta
	return df, nil
}

// supported refuses what this builder does not run, by name.
func supported(c instructions.Command) error {
	switch c := c.(type) {
	case *instructions.RunCommand:
		if len(c.FlagsUsed) > 0 {
			return fmt.Errorf("RUN --%s is not supported by unbox build (RUN takes no flags here)", c.FlagsUsed[0])
		}
		if len(c.Files) > 0 {
			return errors.New("RUN with a heredoc is not supported by unbox build")
		}
	case *instructions.CopyCommand:
		switch {
		case c.Link:
			return errors.New("COPY --link is not supported by unbox build")
		case c.Parents:
			return errors.New("COPY --parents is not supported by unbox build")
		case len(c.ExcludePatterns) > 0:
			return errors.New("COPY --exclude is not supported by unbox build")
		case len(c.SourceContents) > 0:
			return errors.New("COPY with a heredoc is not supported by unbox build")
		}
	case *instructions.AddCommand:
		switch {
		case c.Link:
			return errors.New("ADD --link is not supported by unbox build")
		case c.Checksum != "", c.KeepGitDir != nil:
			return errors.New("ADD --checksum and --keep-git-dir are for remote sources, which unbox build does not fetch")
		case len(c.ExcludePatterns) > 0:
			return errors.New("ADD --exclude is not supported by unbox build")
		case len(c.SourceContents) > 0:
			return errors.New("ADD with a heredoc is not supported by unbox build")
		}
	case *instructions.EnvCommand, *instructions.ArgCommand, *instructions.WorkdirCommand, *instructions.UserCommand,
		*instructions.CmdCommand, *instructions.EntrypointCommand, *instructions.ExposeCommand, *instructions.LabelCommand,
		*instructions.VolumeCommand, *instructions.StopSignalCommand, *instructions.ShellCommand,
		*instructions.MaintainerCommand, *instructions.HealthCheckCommand:
	default:
		return fmt.Errorf("the %s instruction is not supported by unbox build", strings.ToUpper(c.Name()))
	}
	return nil
}

// located is a parser error with the Dockerfile's name and the line it
// points at, as `docker build` reports it ("Dockerfile:3: unknown
// instruction: FOO").
func located(name string, err error) error {
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		return fmt.Errorf("%s:%d: %s", name, le.Locations[0][0].Start.Line, strings.TrimSpace(le.Unwrap().Error()))
	}
	return fmt.Errorf("%s: %w", name, err)
}

// line is the first line of a location.
func line(r []parser.Range) int {
	if len(r) == 0 {
		return 0
	}
	return r[0].Start.Line
}
