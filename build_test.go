package experthub

// Tests of the build and deploy tooling around the code: cloudbuild.yaml's
// smoke test (.ci/smoke.sh), what gcloud uploads for a function deploy
// (.gcloudignore) and for a manual build (.gcloudignore-build), and the
// Terraform provider versions.

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/experthub/experthub/internal/deployment"
)

// smokeServer answers each path with a scripted series of statuses (the
// last one repeats) and records every request.
type smokeServer struct {
	*httptest.Server
	mu       sync.Mutex
	answers  map[string][]int
	requests map[string]int // path → POSTs received
	methods  []string
}

func newSmokeServer(t *testing.T, answers map[string][]int) *smokeServer {
	s := &smokeServer{answers: answers, requests: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.methods = append(s.methods, r.Method)
		n := s.requests[r.URL.Path]
		s.requests[r.URL.Path]++
		codes, ok := s.answers[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(codes[min(n, len(codes)-1)])
	}))
	t.Cleanup(s.Close)
	return s
}

// TestSmokeScript runs .ci/smoke.sh, as cloudbuild.yaml does, on a URL
// list like `terraform output -raw smoke_test_urls`: no newline after the
// last URL. Every URL must be requested, the last one included, and only
// 401 or 403 (the function refusing an unauthenticated caller) passes.
func TestSmokeScript(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	tests := []struct {
		name     string
		answers  map[string][]int // path → statuses in turn
		list     []string         // paths, in the file's order
		trailer  string           // after the last URL
		ok       bool
		requests map[string]int // nil: each listed path once
	}{
		{name: "all refuse, no final newline", ok: true,
			answers: map[string][]int{"/crm": {403}, "/routing": {403}, "/sync": {401}},
			list:    []string{"/crm", "/routing", "/sync"}},
		{name: "final newline", ok: true, trailer: "\n",
			answers: map[string][]int{"/crm": {403}, "/sync": {401}},
			list:    []string{"/crm", "/sync"}},
		{name: "CRLF lines", ok: true, trailer: "\r\n",
			answers: map[string][]int{"/crm": {403}, "/sync": {401}},
			list:    []string{"/crm\r", "/sync"}},
		{name: "the last function is broken",
			answers:  map[string][]int{"/crm": {403}, "/sync": {501}},
			list:     []string{"/crm", "/sync"},
			requests: map[string]int{"/crm": 1, "/sync": 3}},
		{name: "the last function is missing",
			answers: map[string][]int{"/crm": {403}},
			list:    []string{"/crm", "/sync"}},
		{name: "a function lets strangers in",
			answers: map[string][]int{"/crm": {200}, "/sync": {401}},
			list:    []string{"/crm", "/sync"}},
		{name: "a failure does not stop the others",
			answers: map[string][]int{"/crm": {404}, "/outgoing": {403}, "/sync": {401}},
			list:    []string{"/crm", "/outgoing", "/sync"}},
		{name: "a cold start is retried", ok: true,
			answers:  map[string][]int{"/crm": {503, 429, 403}, "/sync": {401}},
			list:     []string{"/crm", "/sync"},
			requests: map[string]int{"/crm": 3, "/sync": 1}},
		{name: "empty list", answers: map[string][]int{}, list: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newSmokeServer(t, tt.answers)
			var lines []string
			for _, p := range tt.list {
				lines = append(lines, srv.URL+p)
			}
			file := filepath.Join(t.TempDir(), "function_urls.txt")
			if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+tt.trailer), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bash, ".ci/smoke.sh", file)
			cmd.Env = append(os.Environ(), "SMOKE_ATTEMPTS=3", "SMOKE_DELAY=0")
			out, err := cmd.CombinedOutput()
			if ok := err == nil; ok != tt.ok {
				t.Errorf("smoke.sh passed = %v, want %v (%v):\n%s", ok, tt.ok, err, out)
			}
			want := tt.requests
			if want == nil {
				want = map[string]int{}
				for _, p := range tt.list {
					want[strings.TrimSuffix(p, "\r")]++
				}
			}
			srv.mu.Lock()
			defer srv.mu.Unlock()
			for p, n := range want {
				if srv.requests[p] != n {
					t.Errorf("%s requested %d times, want %d:\n%s", p, srv.requests[p], n, out)
				}
			}
			if len(srv.requests) != len(want) {
				t.Errorf("requested %v, want %v", srv.requests, want)
			}
			for _, m := range srv.methods {
				if m != http.MethodPost {
					t.Errorf("smoke.sh sent %s, want POST", m)
				}
			}
		})
	}
}

// TestCloudbuildSmokeStep: the smoke step runs .ci/smoke.sh on the file
// the terraform step wrote, so TestSmokeScript tests what the build runs.
func TestCloudbuildSmokeStep(t *testing.T) {
	b, err := os.ReadFile("cloudbuild.yaml")
	if err != nil {
		t.Fatal(err)
	}
	build := string(b)
	m := regexp.MustCompile(`terraform output -raw smoke_test_urls > (\S+)`).FindStringSubmatch(build)
	if m == nil {
		t.Fatal("the terraform step does not write smoke_test_urls to a file")
	}
	smoke := build[strings.Index(build, "- id: smoke"):]
	if !strings.Contains(smoke, "bash .ci/smoke.sh "+m[1]+"\n") {
		t.Errorf("the smoke step does not run `bash .ci/smoke.sh %s`:\n%s", m[1], smoke)
	}
	if strings.Contains(smoke, "while read") || strings.Contains(smoke, "curl") {
		t.Errorf("the smoke step tests URLs itself instead of through .ci/smoke.sh:\n%s", smoke)
	}
}

// ignoreRule is one line of a .gcloudignore file.
type ignoreRule struct {
	pattern  string
	negate   bool
	dirOnly  bool
	anchored bool // matched against the whole path, not the base name
}

// parseIgnore reads the gitignore syntax .gcloudignore files use
// (https://cloud.google.com/sdk/gcloud/reference/topic/gcloudignore),
// the subset this repository uses; anything else is an error, not a guess.
func parseIgnore(src string) ([]ignoreRule, error) {
	var rules []ignoreRule
	for i, line := range strings.Split(src, "\n") {
		line = strings.TrimRight(line, " \t\r")
		switch {
		case line == "" || (strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "#!")):
			continue
		case strings.HasPrefix(line, "#!"), strings.Contains(line, "**"), strings.ContainsAny(line, `\[`):
			return nil, fmt.Errorf("line %d: %q is not supported by this test's parser", i+1, line)
		}
		var r ignoreRule
		r.pattern, r.negate = strings.CutPrefix(line, "!")
		r.pattern, r.dirOnly = strings.CutSuffix(r.pattern, "/")
		r.anchored = strings.Contains(r.pattern, "/")
		r.pattern = strings.TrimPrefix(r.pattern, "/")
		if _, err := path.Match(r.pattern, ""); err != nil || r.pattern == "" {
			return nil, fmt.Errorf("line %d: bad pattern %q", i+1, line)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// ignored reports whether gcloud leaves the file at path (slash-separated,
// relative to the upload's root) out: it is, if a directory above it is,
// or if the last rule matching it does not negate.
func ignored(rules []ignoreRule, file string) bool {
	parts := strings.Split(file, "/")
	for i := range parts {
		p, isDir := strings.Join(parts[:i+1], "/"), i < len(parts)-1
		out := false
		for _, r := range rules {
			name := p
			if !r.anchored {
				name = parts[i]
			}
			if ok, _ := path.Match(r.pattern, name); ok && (isDir || !r.dirOnly) {
				out = !r.negate
			}
		}
		if out {
			return true
		}
	}
	return false
}

// trackedFiles lists the files git tracks, what a build trigger clones.
func trackedFiles(t *testing.T) []string {
	t.Helper()
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git not installed")
	}
	out, err := exec.Command(git, "ls-files").Output()
	if err != nil {
		t.Skipf("git ls-files: %v", err)
	}
	return strings.Fields(string(out))
}

// TestBuildUploadSelection checks both upload selections with the rules
// of their files: a manual build (gcloud builds submit
// --ignore-file=.gcloudignore-build) uploads every tracked file, what a
// trigger would clone, and no local state; a function deploy
// (.gcloudignore) still uploads only the functions' Go sources.
func TestBuildUploadSelection(t *testing.T) {
	load := func(name string) []ignoreRule {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		rules, err := parseIgnore(string(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return rules
	}
	build, function := load(".gcloudignore-build"), load(".gcloudignore")
	tracked := trackedFiles(t)

	// What the build needs: it fails without any of these.
	needed := []string{"cloudbuild.yaml", "terraform/main.tf", "terraform/versions.tf", "terraform/deployment/main.tf",
		".ci/smoke.sh", "go.mod", "go.sum", "function.go", "deploy_test.go", deployment.DescriptionFile}
	for _, f := range needed {
		if !slices.Contains(tracked, f) {
			t.Errorf("%s is not tracked by git", f)
		}
	}
	for _, f := range tracked {
		if ignored(build, f) {
			t.Errorf(".gcloudignore-build leaves out %s, a tracked file the build may need", f)
		}
	}
	// Local state: never uploaded by either.
	local := []string{".git/HEAD", ".git/objects/ab/cdef", ".env", "internal/app/.env", "deploy.env", "deploy.sh",
		"experthub", "app.test", "cpu.prof",
		"terraform/.terraform/providers/registry.terraform.io/hashicorp/google/7.46.0/linux_amd64/terraform-provider-google",
		"terraform/terraform.tfstate", "terraform/terraform.tfstate.backup", "terraform/ci.tfplan",
		"terraform/.terraform.lock.hcl.bak", "terraform/.build/source.zip", "terraform/backend_override.tf",
		"terraform/prod.tfvars", "terraform/ci.tfvars", "terraform/environments/staging.tfvars", "terraform/environments/production.tfvars"}
	for _, f := range local {
		if !ignored(build, f) {
			t.Errorf(".gcloudignore-build uploads %s, local state", f)
		}
		if !ignored(function, f) {
			t.Errorf(".gcloudignore uploads %s, local state", f)
		}
	}
	if ignored(build, "terraform/environments/staging.tfvars.example") || ignored(build, "terraform/.terraform.lock.hcl") {
		t.Error(".gcloudignore-build leaves out terraform/environments/staging.tfvars.example or the lock file")
	}

	// The function deploy: the root package, internal/, go.mod, go.sum.
	for _, f := range tracked {
		want := !strings.HasSuffix(f, "_test.go") && !strings.HasSuffix(f, ".md") && !strings.Contains("/"+f, "/testdata/") &&
			!strings.HasPrefix(path.Base(f), ".") &&
			(f == "go.mod" || f == "go.sum" || strings.HasPrefix(f, "internal/") || (!strings.Contains(f, "/") && strings.HasSuffix(f, ".go")))
		if got := !ignored(function, f); got != want {
			t.Errorf(".gcloudignore uploads %s: %v, want %v", f, got, want)
		}
	}
	for _, f := range []string{"cloudbuild.yaml", "terraform/main.tf", ".ci/smoke.sh", ".gcloudignore-build"} {
		if !ignored(function, f) {
			t.Errorf(".gcloudignore uploads %s with the functions", f)
		}
	}
}

// TestParseIgnore checks the test's own reading of gitignore rules on
// what gcloud documents.
func TestParseIgnore(t *testing.T) {
	rules, err := parseIgnore("/*\n!/*.go\n!/internal/\n*_test.go\ntestdata/\n.*\n")
	if err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]bool{
		"function.go": false, "function_test.go": true, "README.md": true, "terraform/main.tf": true,
		"internal/app/app.go": false, "internal/app/app_test.go": true, "internal/x/testdata/a.json": true,
		"internal/testdata.go": false, "internal/.env": true, ".git/HEAD": true,
	} {
		if got := ignored(rules, file); got != want {
			t.Errorf("ignored(%s) = %v, want %v", file, got, want)
		}
	}
	for _, bad := range []string{"#!include:.gitignore", "**/x", "[ab]"} {
		if _, err := parseIgnore(bad); err == nil {
			t.Errorf("parseIgnore(%q) accepted an unsupported rule", bad)
		}
	}
}

// lockFile is the Terraform dependency lock file, once committed.
const lockFile = "terraform/.terraform.lock.hcl"

var exactVersion = regexp.MustCompile(`^=?\s*\d+\.\d+\.\d+$`)

// providerPinProblems checks that every provider's version is fixed: by an
// exact constraint, or by the lock file (lock == "" when none is
// committed), which must then list it at the version a constraint names.
func providerPinProblems(files map[string]string, lock string) []string {
	var problems []string
	found := 0
	for _, name := range slices.Sorted(maps.Keys(files)) {
		src := files[name]
		i := strings.Index(src, "required_providers {")
		if i < 0 {
			continue
		}
		body, ok := braced(src[i+len("required_providers "):])
		if !ok {
			problems = append(problems, name+": unbalanced required_providers block")
			continue
		}
		for _, key := range hclKeys(body) {
			found++
			block, _ := hclBlock(body, key)
			attrs := hclAttrs(block)
			source, version := strings.Trim(attrs["source"], `"`), strings.Trim(attrs["version"], `"`)
			exact := exactVersion.MatchString(strings.TrimSpace(version))
			if lock == "" {
				if !exact {
					problems = append(problems, fmt.Sprintf("%s: provider %s has version %q, not an exact version, and no %s is committed", name, key, version, lockFile))
				}
				continue
			}
			m := regexp.MustCompile(`provider "registry\.terraform\.io/` + regexp.QuoteMeta(source) + `" \{\s+version\s+=\s+"([^"]+)"`).FindStringSubmatch(lock)
			switch {
			case m == nil:
				problems = append(problems, fmt.Sprintf("%s does not lock provider %s (%s)", lockFile, key, source))
			case exact && strings.TrimSpace(strings.TrimPrefix(version, "=")) != m[1]:
				problems = append(problems, fmt.Sprintf("%s locks %s at %s, %s pins %s", lockFile, key, m[1], name, version))
			}
		}
	}
	if found == 0 {
		problems = append(problems, "no required_providers in terraform/*.tf")
	}
	return problems
}

// TestTerraformProvidersPinned: every build must install the same
// provider versions, so each is an exact version until the lock file,
// which also pins checksums, is committed (docs/deploy.md, "Provider versions").
func TestTerraformProvidersPinned(t *testing.T) {
	paths, err := filepath.Glob("terraform/*.tf")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no terraform/*.tf (%v)", err)
	}
	files := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.ToSlash(p)] = string(b)
	}
	lock := ""
	if b, err := os.ReadFile(lockFile); err == nil {
		lock = string(b)
	} else if !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, p := range providerPinProblems(files, lock) {
		t.Error(p)
	}

	// The check itself catches what it must.
	versions := files["terraform/versions.tf"]
	google := regexp.MustCompile(`(source\s+=\s+"hashicorp/google"\s+version\s+=\s+)"[^"]*"`)
	if !google.MatchString(versions) {
		t.Fatal("terraform/versions.tf has no hashicorp/google version")
	}
	with := func(constraint string) map[string]string {
		m := maps.Clone(files)
		m["terraform/versions.tf"] = google.ReplaceAllString(versions, `${1}"`+constraint+`"`)
		return m
	}
	lockOf := func(version string) string {
		return `provider "registry.terraform.io/hashicorp/google" {
  version     = "` + version + `"
  constraints = "~> 7.0"
}
provider "registry.terraform.io/hashicorp/archive" {
  version     = "2.7.1"
}
`
	}
	cases := []struct {
		name        string
		files       map[string]string
		lock        string
		wantProblem bool
	}{
		{"range without a lock file", with("~> 7.0"), "", true},
		{"minimum without a lock file", with(">= 7.0.0"), "", true},
		{"exact without a lock file", with("= 7.46.0"), "", false},
		{"exact, no operator", with("7.46.0"), "", false},
		{"range with a lock file", with("~> 7.0"), lockOf("7.46.0"), false},
		{"exact, lock file disagrees", with("= 7.46.0"), lockOf("7.45.0"), true},
		{"lock file without the provider", with("~> 7.0"), `provider "registry.terraform.io/hashicorp/archive" {
  version     = "2.7.1"
}`, true},
	}
	for _, c := range cases {
		var googleProblems []string
		for _, p := range providerPinProblems(c.files, c.lock) {
			if strings.Contains(p, "google") {
				googleProblems = append(googleProblems, p)
			}
		}
		if got := len(googleProblems) > 0; got != c.wantProblem {
			t.Errorf("%s: problems %q, want some: %v", c.name, googleProblems, c.wantProblem)
		}
	}
}
