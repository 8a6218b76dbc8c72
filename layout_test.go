package experthub

import (
	"os"
	"os/exec"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestReadmeLayout: the layout section of README.md lists every package
// of the module, and no package that is gone. The conformance suites of
// the domain packages (internal/<pkg>/<pkg>test) are listed as one line.
func TestReadmeLayout(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Layout\n")
	if !ok {
		t.Fatal("README.md has no ## Layout section")
	}
	_, block, _ := strings.Cut(section, "```\n")
	block, _, _ = strings.Cut(block, "```")
	listed := map[string]bool{}
	entry := regexp.MustCompile(`^((?:internal|cmd)/[A-Za-z0-9_/]+?)/?(?:\s|$)`)
	for line := range strings.SplitSeq(block, "\n") {
		if m := entry.FindStringSubmatch(line); m != nil {
			listed[m[1]] = true
		}
	}
	if len(listed) < 20 {
		t.Fatalf("found only %d packages in the README's layout", len(listed))
	}

	out, err := exec.Command("go", "list", "-f", "{{.Dir}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list ./...: %v", err)
	}
	wd, _ := os.Getwd()
	var packages []string
	for _, dir := range strings.Fields(string(out)) {
		rel := strings.TrimPrefix(strings.TrimPrefix(dir, wd), "/")
		if rel == "" {
			continue // function.go, listed by name
		}
		packages = append(packages, rel)
	}
	for _, p := range packages {
		suite := path.Base(p) == path.Base(path.Dir(p))+"test" && !listed[p]
		if !listed[p] && !suite {
			t.Errorf("README's layout does not list %s", p)
		}
	}
	for p := range listed {
		if !slices.Contains(packages, p) {
			t.Errorf("README's layout lists %s, which is no package", p)
		}
	}
}
