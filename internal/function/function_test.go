package function

import (
	"regexp"
	"testing"
)

// TestAll: every function once, under a name that is a valid Cloud
// Functions name and path segment, and callers cannot change the list.
func TestAll(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z][a-z0-9-]*[a-z0-9]$`)
	seen := map[Name]bool{}
	for _, f := range All() {
		if !valid.MatchString(string(f)) || seen[f] {
			t.Errorf("%q is not a function name, or is listed twice", f)
		}
		seen[f] = true
	}
	all := All()
	all[0] = "changed"
	if All()[0] == "changed" {
		t.Error("All returned a list its caller can change")
	}
}
