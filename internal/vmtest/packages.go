package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// testPackage is a package with privileged tests, as the lane sees it.
type testPackage struct {
	ImportPath string
	Rel        string   // path relative to the module root: lessons/01-namespaces
	Dir        string   // on the host
	Tests      []string // its TestPriv… functions, sorted
	Excluded   []exclusion
	Modes      []string // the boot modes it runs in; nil: every mode
	Binary     string   // the static test binary, once built
	BuildErr   error
}

// goListPackage is the part of `go list -json` we read.
type goListPackage struct {
	ImportPath   string
	Dir          string
	Module       *struct{ Dir string }
	TestGoFiles  []string
	XTestGoFiles []string
	Error        *struct{ Err string }
}

// buildEnv is the environment for go list and go test -c: static Linux
// binaries for the guest, whatever the host.
func buildEnv() []string {
	return append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
}

// discover lists the packages matching patterns that have privileged tests,
// found by reading their test files: the functions go test would run whose
// names start with TestPriv. Reading the source rather than running the
// binary with -test.list keeps the host's test lock and TestMain out of it.
func discover(ctx context.Context, patterns []string) ([]*testPackage, error) {
	args := append([]string{"list", "-e", "-json=ImportPath,Dir,Module,TestGoFiles,XTestGoFiles,Error"}, patterns...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Env = buildEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list %s: %w\n%s", strings.Join(patterns, " "), err, stderr.String())
	}
	var pkgs []*testPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p goListPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list output: %w", err)
		}
		tp := &testPackage{ImportPath: p.ImportPath, Dir: p.Dir, Rel: p.ImportPath}
		if p.Module != nil {
			if rel, err := filepath.Rel(p.Module.Dir, p.Dir); err == nil {
				tp.Rel = filepath.ToSlash(rel)
			}
		}
		if p.Error != nil {
			// A package that does not load (another change in progress, a
			// syntax error) still takes part: its tests cannot be counted,
			// so it fails the lane with go's own words.
			tp.BuildErr = fmt.Errorf("%s", p.Error.Err)
			pkgs = append(pkgs, tp)
			continue
		}
		for _, f := range append(slices.Clone(p.TestGoFiles), p.XTestGoFiles...) {
			names, err := privilegedTests(filepath.Join(p.Dir, f))
			if err != nil {
				tp.BuildErr = err
			}
			tp.Tests = append(tp.Tests, names...)
		}
		slices.Sort(tp.Tests)
		if len(tp.Tests) > 0 || tp.BuildErr != nil {
			pkgs = append(pkgs, tp)
		}
	}
	return pkgs, nil
}

// privilegedTestName selects what the guest runs with -test.run '^TestPriv'.
var privilegedTestName = regexp.MustCompile(`^TestPriv`)

// privilegedTests returns the TestPriv… functions declared in a test file:
// top-level functions with one *testing.T parameter, as go test finds them.
func privilegedTests(file string) ([]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv != nil || !privilegedTestName.MatchString(fn.Name.Name) {
			continue
		}
		if params := fn.Type.Params.List; len(params) == 1 && len(params[0].Names) <= 1 {
			if star, ok := params[0].Type.(*ast.StarExpr); ok {
				if sel, ok := star.X.(*ast.SelectorExpr); ok && sel.Sel.Name == "T" {
					names = append(names, fn.Name.Name)
				}
			}
		}
	}
	return names, nil
}

// build compiles each package's test binary, static (CGO_ENABLED=0) and
// stripped, into dir. Two builds at a time: the first warms the build cache
// for the shared packages.
func build(ctx context.Context, pkgs []*testPackage, dir string) {
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for _, p := range pkgs {
		if p.BuildErr != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			bin := filepath.Join(dir, strings.ReplaceAll(p.Rel, "/", "_")+".test")
			cmd := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, "-ldflags=-s -w", p.ImportPath)
			cmd.Env = buildEnv()
			if out, err := cmd.CombinedOutput(); err != nil {
				p.BuildErr = fmt.Errorf("go test -c %s: %w\n%s", p.ImportPath, err, out)
				return
			}
			p.Binary = bin
		}()
	}
	wg.Wait()
}
