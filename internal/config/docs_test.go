package config

import (
	"os"
	"strings"
	"testing"
)

// docsFile is the settings' reference: one table row per variable.
const docsFile = "../../docs/configuration.md"

// The configuration table is the user's reference; a variable added to
// Vars without a row there is a setting nobody can discover.
func TestDocsDocumentEveryVariable(t *testing.T) {
	b, err := os.ReadFile(docsFile)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, v := range Vars {
		if !strings.Contains(doc, "| `"+v.Name+"` |") {
			t.Errorf("%s has no configuration row for %s", docsFile, v.Name)
		}
		for _, a := range v.Aliases {
			if !strings.Contains(doc, "`"+a+"`") {
				t.Errorf("%s does not mention %s, alias of %s", docsFile, a, v.Name)
			}
		}
	}
}
