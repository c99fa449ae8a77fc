package kit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/urfave/cli/v2"
)

// Lesson is one runnable lesson: what it needs from the host and its
// numbered steps.
type Lesson struct {
	// Name is the lesson's directory under lessons/, e.g. "01-namespaces".
	// It appears in the banner and in the commands errors tell people to run.
	Name  string
	Title string
	// Intro is printed under the banner: the end result, drawn first.
	Intro string
	// Needs are needed by every step.
	Needs []Need
	Steps []Step
	// Shell, when set, is offered as --shell: after the last step run, it
	// drops the learner into a shell inside the lesson's container.
	Shell      func(s *Session) error
	ShellNeeds []Need
	// Outro is printed after the last step.
	Outro string
	// Flags are the lesson's own flags, next to the workshop ones; a step
	// reads them through Session.Flags.
	Flags []cli.Flag
	// Exercises are checked by `<lesson> check N` (see exercise.go).
	Exercises []Exercise
	// Catalogs are the lesson's translations, by language ("zh"): the text
	// of a gettext PO file whose msgids are the English the lesson
	// narrates (see i18n.go). A lesson embeds its file:
	//
	//	//go:embed zh.po
	//	var zhPO string
	//	... Catalogs: map[string]string{"zh": zhPO}
	Catalogs map[string]string
}

// Step is one numbered step of a lesson.
type Step struct {
	Title string
	// Explain is one or two sentences printed under the title.
	Explain string
	// Needs are what this step needs beyond the lesson's Needs, so that
	// --only N can run a step that needs less (lesson 01's user namespace
	// step runs without root).
	Needs []Need
	// Requires lists earlier steps (1-based) this one builds on; --only N
	// runs them first.
	Requires []int
	Run      func(s *Session) error
}

// Session is what a step gets: the narrator, the context (cancelled on
// Ctrl-C), and a place to register cleanup.
type Session struct {
	*Narrator
	Ctx    context.Context
	Lesson *Lesson
	In     io.Reader
	Out    io.Writer
	Err    io.Writer
	// Flags holds the parsed command line, for a lesson's own Flags.
	Flags *cli.Context

	cleanups []func() error
}

// Cleanup registers fn to run when the lesson ends, however it ends: after
// the last step, on a failed step, or on Ctrl-C. Cleanups run last-registered
// first, so register each right after creating the thing it undoes.
func (s *Session) Cleanup(fn func() error) { s.cleanups = append(s.cleanups, fn) }

func (s *Session) runCleanups() error {
	var errs []error
	for i := len(s.cleanups) - 1; i >= 0; i-- {
		if err := s.cleanups[i](); err != nil {
			errs = append(errs, err)
		}
	}
	s.cleanups = nil
	return errors.Join(errs...)
}

// foreground is set while an interactive child (a shell) owns the terminal:
// Ctrl-C is then the child's, not a request to stop the lesson.
var foreground atomic.Bool

// Foreground runs fn, typically an interactive shell, with Ctrl-C left to
// it: [Main] does not cancel the lesson while fn runs.
func (s *Session) Foreground(fn func() error) error {
	foreground.Store(true)
	defer foreground.Store(false)
	return fn()
}

// RunFunc is the signature of a lesson's run function, which [Main] calls.
type RunFunc func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error

// Run parses the workshop flags in args (args[0] is the program name) and
// runs the lesson: --list prints the steps; `check N` checks exercise N;
// otherwise the needs of the steps to run are checked, then the steps run in
// order.
func Run(ctx context.Context, l *Lesson, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var runErr error
	app := &cli.App{
		Name:            l.Name,
		Usage:           "unbox lesson " + l.Title + " (see its README.md)",
		HideHelpCommand: true,
		Writer:          stdout,
		ErrWriter:       stderr,
		// Errors come back to the caller; only Main decides exit codes.
		ExitErrHandler: func(*cli.Context, error) {},
		Flags:          append(workshopFlags(l), l.Flags...),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("unexpected argument %q: see --help", c.Args().First())
			}
			runErr = runLesson(ctx, l, c, stdin, stdout, stderr)
			return nil
		},
	}
	if len(l.Exercises) > 0 {
		app.Commands = []*cli.Command{{
			Name:      "check",
			Usage:     "check exercise `N` of the README's Exercises: pass or fail, with a hint",
			ArgsUsage: "N",
			Flags:     []cli.Flag{langFlag()},
			Action: func(c *cli.Context) error {
				runErr = runCheck(ctx, l, c, stdin, stdout, stderr)
				return nil
			},
		}}
	}
	if err := app.RunContext(ctx, args); err != nil {
		return err
	}
	return runErr
}

func langFlag() cli.Flag {
	return &cli.StringFlag{Name: "lang", Usage: "narrate in `LANG`: en or zh (default: from LANG, LC_ALL, LANGUAGE)"}
}

// newSession is the session of a run: its narrator in the language asked
// for (--lang, else the context's default, else the locale), recording when
// the context carries a Recorder.
func newSession(ctx context.Context, l *Lesson, c *cli.Context, stdin io.Reader, stdout, stderr io.Writer) (*Session, error) {
	lang, err := chooseLanguage(ctx, l, lookupLang(c))
	if err != nil {
		return nil, err
	}
	n := NewNarrator(stdout, ColorFor(stdout))
	if lang != English {
		cat, err := catalogFor(l, lang)
		if err != nil {
			return nil, err
		}
		n.setLanguage(lang, cat)
	}
	recorderFrom(ctx).attach(n)
	return &Session{Narrator: n, Ctx: ctx, Lesson: l, In: stdin, Out: stdout, Err: stderr, Flags: c}, nil
}

// lookupLang is --lang, given to the lesson or to its check command.
func lookupLang(c *cli.Context) string {
	for _, cc := range c.Lineage() {
		if cc.IsSet("lang") {
			return cc.String("lang")
		}
	}
	return ""
}

type langKey struct{}

// WithLanguage returns a context in which [Run] narrates in lang unless
// --lang says otherwise, whatever the locale: tests use it so that a
// transcript does not depend on who runs them.
func WithLanguage(ctx context.Context, lang string) context.Context {
	return context.WithValue(ctx, langKey{}, lang)
}

func chooseLanguage(ctx context.Context, l *Lesson, flag string) (string, error) {
	if flag != "" {
		lang := normalLang(flag)
		if lang == "" {
			return "", fmt.Errorf("--lang %s: this lesson speaks en and zh", flag)
		}
		return lang, nil
	}
	if lang, ok := ctx.Value(langKey{}).(string); ok && lang != "" {
		return normalLang(lang), nil
	}
	if v, ok := UserEnv(LangEnv); ok && v != "" {
		if lang := normalLang(v); lang != "" {
			return lang, nil
		}
		return "", fmt.Errorf("%s=%s: this lesson speaks en and zh", LangEnv, v)
	}
	return LanguageFromEnv(userLocale), nil
}

// LangEnv chooses the narration language for every lesson, above the
// locale and below --lang: UNBOX_LANG=zh for a room that reads Chinese
// whatever its machines' locale.
const LangEnv = "UNBOX_LANG"

// LessonCatalog is what a lesson narrates in lang with: the kit's catalog
// merged with the lesson's. Tests use it to check a run against it.
func LessonCatalog(l *Lesson, lang string) (Catalog, error) { return catalogFor(l, lang) }

// catalogFor merges the kit's catalog for lang with the lesson's (the
// lesson's wins).
func catalogFor(l *Lesson, lang string) (Catalog, error) {
	cat := Catalog{}
	if text, ok := kitCatalogs[lang]; ok {
		c, err := ParsePO(text)
		if err != nil {
			return nil, fmt.Errorf("the kit's %s catalog: %w", lang, err)
		}
		maps.Copy(cat, c)
	}
	if text, ok := l.Catalogs[lang]; ok {
		c, err := ParsePO(text)
		if err != nil {
			return nil, fmt.Errorf("lesson %s's %s catalog: %w", l.Name, lang, err)
		}
		maps.Copy(cat, c)
	}
	return cat, nil
}

func workshopFlags(l *Lesson) []cli.Flag {
	flags := []cli.Flag{
		&cli.BoolFlag{Name: "list", Usage: "list the steps and exit"},
		&cli.IntFlag{Name: "step", Usage: "stop after step `N`"},
		&cli.IntFlag{Name: "only", Usage: "run step `N` alone (with the steps it builds on)"},
		&cli.BoolFlag{Name: "pause", Usage: "wait for Enter between steps (workshop mode)"},
		langFlag(),
	}
	if l.Shell != nil {
		flags = append(flags, &cli.BoolFlag{Name: "shell", Usage: "at the end, drop into a shell inside the container"})
	}
	return flags
}

func runLesson(ctx context.Context, l *Lesson, c *cli.Context, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	if c.Bool("list") {
		s, err := newSession(ctx, l, c, stdin, stdout, stderr)
		if err != nil {
			return err
		}
		listSteps(s, l)
		return nil
	}
	steps, err := selectSteps(l, c.Int("step"), c.Int("only"))
	if err != nil {
		return err
	}
	shell := l.Shell != nil && c.Bool("shell")

	needs := slices.Clone(l.Needs)
	for _, i := range steps {
		needs = append(needs, l.Steps[i].Needs...)
	}
	if shell {
		needs = append(needs, l.ShellNeeds...)
	}
	s, err := newSession(ctx, l, c, stdin, stdout, stderr)
	if err != nil {
		return err
	}
	if err := preflight(s.Narrator, stderr, l.Name, needs); err != nil {
		if ok := runnableSteps(l); len(ok) > 0 && len(ok) < len(l.Steps) {
			fmt.Fprintln(stderr, s.T("Steps that run here as you are: %s (run one with --only N).", joinInts(ok)))
		}
		return err
	}

	defer func() {
		if cerr := s.runCleanups(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("clean up: %w", cerr))
		}
	}()

	s.Title("unbox lesson %s", s.literal(l.Title))
	if l.Intro != "" {
		s.Say("%s", l.Intro)
	}
	pause := newPauser(s, c.Bool("pause"), stdin, stdout)
	for k, i := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if k > 0 {
			if err := pause.wait(ctx, s.T("step %d", i+1)); err != nil {
				return err
			}
		}
		st := l.Steps[i]
		s.Step(i+1, len(l.Steps), st.Title, st.Explain)
		if err := st.Run(s); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("step %d (%s): %w", i+1, st.Title, err)
		}
	}
	if shell {
		if err := pause.wait(ctx, s.T("the shell")); err != nil {
			return err
		}
		return l.Shell(s)
	}
	if l.Outro != "" && len(steps) == len(l.Steps) {
		s.Note("%s", l.Outro)
	}
	return nil
}

// selectSteps returns the 0-based indexes of the steps to run.
func selectSteps(l *Lesson, stop, only int) ([]int, error) {
	n := len(l.Steps)
	switch {
	case stop != 0 && only != 0:
		return nil, errors.New("use --step or --only, not both")
	case stop < 0 || stop > n:
		return nil, fmt.Errorf("--step %d: this lesson has steps 1 to %d (see --list)", stop, n)
	case only < 0 || only > n:
		return nil, fmt.Errorf("--only %d: this lesson has steps 1 to %d (see --list)", only, n)
	case only != 0:
		var idx []int
		for _, r := range l.Steps[only-1].Requires {
			idx = append(idx, r-1)
		}
		return append(idx, only-1), nil
	}
	if stop == 0 {
		stop = n
	}
	idx := make([]int, stop)
	for i := range idx {
		idx[i] = i
	}
	return idx, nil
}

// runnableSteps lists the steps (1-based) whose needs are all met here.
func runnableSteps(l *Lesson) []int {
	var ok []int
	for i, st := range l.Steps {
		if len(MissingNeeds(append(slices.Clone(l.Needs), st.Needs...))) == 0 {
			ok = append(ok, i+1)
		}
	}
	return ok
}

// wrapList joins items with ", " into lines at most width columns wide (an
// item wider than that has a line of its own); no items make one empty line.
func wrapList(items []string, width int) []string {
	lines := []string{""}
	for _, it := range items {
		last := &lines[len(lines)-1]
		switch {
		case *last == "":
			*last = it
		case Width(*last)+2+Width(it) <= width:
			*last += ", " + it
		default:
			*last += ","
			lines = append(lines, it)
		}
	}
	return lines
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}

func listSteps(s *Session, l *Lesson) {
	s.Title("unbox lesson %s", s.literal(l.Title))
	fmt.Fprintln(s.Writer())
	header := []string{"step", "title", "needs"}
	steps, titles := make([]string, len(l.Steps)), make([]string, len(l.Steps))
	stepW, titleW := Width(s.literal(header[0])), Width(s.literal(header[1]))
	for i, st := range l.Steps {
		steps[i], titles[i] = fmt.Sprint(i+1), s.literal(st.Title)
		stepW, titleW = max(stepW, Width(steps[i])), max(titleW, Width(titles[i]))
	}
	// Needs that every step with needs has are shown once, under the
	// table, as "*".
	stepNeeds := make([][]string, len(l.Steps))
	var common []string
	withNeeds := 0
	for i, st := range l.Steps {
		for _, n := range append(slices.Clone(l.Needs), st.Needs...) {
			if !slices.Contains(stepNeeds[i], n.Name) {
				stepNeeds[i] = append(stepNeeds[i], n.Name)
			}
		}
		if len(stepNeeds[i]) == 0 {
			continue
		}
		if withNeeds++; withNeeds == 1 {
			common = slices.Clone(stepNeeds[i])
		} else {
			common = slices.DeleteFunc(common, func(n string) bool { return !slices.Contains(stepNeeds[i], n) })
		}
	}
	if withNeeds < 2 || len(common) < 2 {
		common = nil
	}
	// The needs column takes what the titles leave of the columns, and
	// the widest need at least: a title longer than that is folded.
	needW := 1
	for i := range stepNeeds {
		for _, n := range stepNeeds[i] {
			if !slices.Contains(common, n) {
				needW = max(needW, Width(n)+1)
			}
		}
	}
	if fit := Columns - len(indent) - stepW - 2 - 2 - needW; titleW > fit {
		titleW = Width(s.literal(header[1]))
		for i := range titles {
			titles[i] = Wrap(titles[i], fit)
			for _, line := range strings.Split(titles[i], "\n") {
				titleW = max(titleW, Width(line))
			}
		}
	}
	room := Columns - len(indent) - stepW - 2 - titleW - 2
	var rows [][]string
	for i := range l.Steps {
		needs := stepNeeds[i]
		if len(common) > 0 && len(needs) > 0 {
			needs = append([]string{"*"}, slices.DeleteFunc(slices.Clone(needs), func(n string) bool {
				return slices.Contains(common, n)
			})...)
		}
		// A long list of needs goes on as many lines as it takes, so the
		// table fits a projector's 100 columns.
		titleLines := strings.Split(titles[i], "\n")
		needLines := wrapList(needs, room)
		for j := range max(len(titleLines), len(needLines)) {
			row := []string{"", "", ""}
			if j == 0 {
				row[0] = steps[i]
			}
			if j < len(titleLines) {
				row[1] = titleLines[j]
			}
			if j < len(needLines) {
				row[2] = needLines[j]
			}
			rows = append(rows, row)
		}
	}
	s.Table(header, rows)
	if len(common) > 0 {
		fmt.Fprintln(s.Writer())
		// As many lines as it takes, under the first need.
		pad := strings.Repeat(" ", Width(s.T("* needs %s", "")))
		s.Say("* needs %s", strings.Join(wrapList(common, Columns-len(indent)-len(pad)), "\n"+pad))
	}
	if l.Shell != nil {
		fmt.Fprintln(s.Writer())
		s.Say("--shell: afterwards, a shell inside the container")
	}
	if len(l.Exercises) > 0 {
		fmt.Fprintln(s.Writer())
		s.Say("Exercises (see the README), checked with: go run -exec sudo ./lessons/%s check N", l.Name)
		listExercises(s, l)
	}
}

// pauser waits for Enter between steps in workshop mode.
type pauser struct {
	s     *Session
	on    bool
	out   io.Writer
	lines chan struct{}
}

func newPauser(s *Session, on bool, in io.Reader, out io.Writer) *pauser {
	p := &pauser{s: s, on: on && in != nil, out: out}
	if p.on {
		// One reader goroutine for the whole lesson, so a cancelled wait does
		// not leave a second reader racing for the next line.
		p.lines = make(chan struct{})
		go func() {
			defer close(p.lines)
			r := bufio.NewReader(in)
			for {
				if _, err := r.ReadString('\n'); err != nil {
					return
				}
				p.lines <- struct{}{}
			}
		}()
	}
	return p
}

func (p *pauser) wait(ctx context.Context, next string) error {
	if !p.on {
		return nil
	}
	fmt.Fprintf(p.out, "\n%s%s ", indent, p.s.T("[Enter] for %s…", next))
	select {
	case _, ok := <-p.lines:
		if !ok {
			// Standard input ended: nobody is there to press Enter, so stop
			// pausing rather than hang.
			p.on = false
		}
		fmt.Fprintln(p.out)
		return nil
	case <-ctx.Done():
		fmt.Fprintln(p.out)
		return ctx.Err()
	}
}
