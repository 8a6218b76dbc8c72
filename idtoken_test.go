package experthub

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestOneIDTokenVerifier: Google's ID tokens are checked in one place,
// internal/gcpauth (issuer, audience, e-mail, expiry), for every function
// Google calls. Two checks had drifted apart before; this keeps a second
// one from growing again. Only gcpauth imports Google's idtoken package,
// and nothing else declares a check of a token for an audience, the shape
// of every ID-token validator, but the doubles that stand in for Google
// in tests (packages named …test or …fake, and _test files).
func TestOneIDTokenVerifier(t *testing.T) {
	const home = "internal/gcpauth"
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || filepath.ToSlash(filepath.Dir(path)) == home {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "google.golang.org/api/idtoken" {
				t.Errorf("%s imports %s: only %s may", path, p, home)
			}
		}
		name := f.Name.Name
		if strings.HasSuffix(path, "_test.go") || strings.HasSuffix(name, "test") || strings.HasSuffix(name, "fake") {
			return nil
		}
		// Functions, methods and interface methods alike.
		ast.Inspect(f, func(n ast.Node) bool {
			ft, ok := n.(*ast.FuncType)
			if !ok {
				return true
			}
			if names := paramNames(ft.Params); slices.Contains(names, "token") && slices.Contains(names, "audience") {
				t.Errorf("%s checks a token for an audience: an ID-token validator belongs in %s", fset.Position(n.Pos()), home)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func paramNames(fl *ast.FieldList) []string {
	var out []string
	for _, f := range fl.List {
		for _, n := range f.Names {
			out = append(out, strings.ToLower(n.Name))
		}
	}
	return out
}
