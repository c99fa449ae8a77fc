package kittest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/unboxlab/unbox/internal/kit"
)

// checkReasons wants every reason a lesson's checks give in words said in
// each language of l.Catalogs, read from the lesson's source (in the
// test's directory): a check fails on the stub before it reaches most of
// them, and passes on the reference solution, so no run of the checks
// prints them all. Each kit.Errorf format in the lesson's files must be a
// msgid of every catalog; and a fmt.Errorf or errors.New in check.go,
// where the checks live, must not say in English words what kit.Errorf
// would translate ("joinUTS: %w" names a function, and stays).
func checkReasons(t *testing.T, l *kit.Lesson) {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var keys []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			fn := calledName(call)
			format, constant := stringConstant(call.Args[0])
			switch {
			case fn == "kit.Errorf" && !constant:
				t.Errorf("%s: kit.Errorf with a format that is not a constant string: it is the key of the "+
					"reason's translation", fset.Position(call.Pos()))
			case fn == "kit.Errorf" && !slices.Contains(keys, format):
				keys = append(keys, format)
			case (fn == "fmt.Errorf" || fn == "errors.New") && constant && f == "check.go" && hasProse(format):
				t.Errorf("%s: %s(%q) is a check's reason in English only, whatever --lang says: make it "+
					"kit.Errorf, with its translation in each catalog", fset.Position(call.Pos()), fn, format)
			}
			return true
		})
	}
	for _, lang := range slices.Sorted(maps.Keys(l.Catalogs)) {
		cat, err := kit.ParsePO(l.Catalogs[lang])
		if err != nil {
			t.Fatalf("the %s catalog: %v", lang, err)
		}
		var missing []string
		for _, k := range keys {
			if _, ok := cat[k]; !ok {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			t.Errorf("%d reasons the checks give (kit.Errorf) have no %s translation; add them to the catalog:\n\n%s",
				len(missing), lang, kit.FormatPO(missing))
		}
	}
}

// calledName is "pkg.Func" of a call to a package's function, or "".
func calledName(call *ast.CallExpr) string {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	pkg, ok := sel.X.(*ast.Ident)
	if !ok {
		return ""
	}
	return pkg.Name + "." + sel.Sel.Name
}

// stringConstant is the value of a string literal, or of literals joined
// with +.
func stringConstant(e ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(e.Value)
		return s, err == nil
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return "", false
		}
		x, ok := stringConstant(e.X)
		y, ok2 := stringConstant(e.Y)
		return x + y, ok && ok2
	case *ast.ParenExpr:
		return stringConstant(e.X)
	}
	return "", false
}

// hasProse reports whether a format has words to translate between its
// verbs: two words of letters in one piece, as [EnglishLeft] counts them.
func hasProse(format string) bool {
	for _, piece := range verbs.Split(format, -1) {
		for _, p := range strings.Split(piece, "\n") {
			if isProse(p) {
				return true
			}
		}
	}
	return false
}
