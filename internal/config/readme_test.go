package config

import (
	"os"
	"strings"
	"testing"
)

// The README's configuration table is the user's reference; a variable
// added to Vars without a row there is a setting nobody can discover.
func TestREADMEDocumentsEveryVariable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, v := range Vars {
		if !strings.Contains(readme, "| `"+v.Name+"` |") {
			t.Errorf("README has no configuration row for %s", v.Name)
		}
		for _, a := range v.Aliases {
			if !strings.Contains(readme, "`"+a+"`") {
				t.Errorf("README does not mention %s, alias of %s", a, v.Name)
			}
		}
	}
}
