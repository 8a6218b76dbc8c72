package experthub

import (
	"os/exec"
	"path"
	"strings"
	"testing"
)

// TestNoDoubleDeployed: the deployed functions (this package and what it
// imports) link no test double. Doubles are named <pkg>test (or, until
// renamed, <pkg>fake); the local runner, cmd/experthub, injects the ones
// it needs (see UseLocal).
func TestNoDoubleDeployed(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps .: %v", err)
	}
	n := 0
	for _, p := range strings.Fields(string(out)) {
		n++
		if last := path.Base(p); strings.HasSuffix(last, "fake") || strings.HasSuffix(last, "test") {
			t.Errorf("the deployed functions import %s, a test double", p)
		}
	}
	if n < 10 {
		t.Fatalf("go list -deps . listed %d packages: %q", n, out)
	}
}
