package experthub

// cloudbuild.yaml's promotion (docs/deploy.md, "Environments"): one
// build file for every environment; a push to main deploys staging, smoke
// tests it and runs experthub doctor against it, then marks the commit as
// passed; production deploys only a commit staging passed.

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// buildStep is one step of cloudbuild.yaml, as far as these tests go.
type buildStep struct {
	id, body, script string
	waitFor          []string
}

// buildSteps reads the steps of cloudbuild.yaml: each `  - id: X` item,
// its waitFor list and its `script: |` block.
func buildSteps(t *testing.T, src string) map[string]buildStep {
	t.Helper()
	steps := map[string]buildStep{}
	items := regexp.MustCompile(`(?m)^  - id: `).Split(src, -1)
	for _, item := range items[1:] {
		id, body, _ := strings.Cut(item, "\n")
		st := buildStep{id: strings.TrimSpace(id), body: body}
		if m := regexp.MustCompile(`(?m)^    waitFor: \[(.*)\]$`).FindStringSubmatch(body); m != nil {
			for _, w := range strings.Split(m[1], ",") {
				st.waitFor = append(st.waitFor, strings.Trim(strings.TrimSpace(w), `"`))
			}
		}
		if _, after, ok := strings.Cut(body, "    script: |\n"); ok {
			var lines []string
			for _, line := range strings.Split(after, "\n") {
				if !strings.HasPrefix(line, "      ") && line != "" {
					break
				}
				lines = append(lines, strings.TrimPrefix(line, "      "))
			}
			st.script = strings.Join(lines, "\n")
		}
		steps[st.id] = st
	}
	return steps
}

// runStep runs a step's script with bash, the substitutions as its
// environment (automapSubstitutions) and a fake gcloud that records its
// arguments and fails on the objects missing names.
func runStep(t *testing.T, st buildStep, env map[string]string, missing string) (string, error) {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "gcloud.log")
	fake := "#!/usr/bin/env bash\necho \"$*\" >> " + log + "\ncase \"$*\" in *" + missing + "*) exit 1;; esac\ncat >/dev/null 2>&1 || true\n"
	if missing == "" {
		fake = "#!/usr/bin/env bash\necho \"$*\" >> " + log + "\ncat >/dev/null 2>&1 || true\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "gcloud"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bash, "-c", st.script)
	cmd.Env = []string{"PATH=" + dir + ":" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	calls, _ := os.ReadFile(log)
	return string(out) + "\ngcloud " + strings.TrimSpace(string(calls)), err
}

func TestCloudbuildPromotion(t *testing.T) {
	b, err := os.ReadFile("cloudbuild.yaml")
	if err != nil {
		t.Fatal(err)
	}
	build := string(b)
	for _, sub := range []string{"_ENVIRONMENT", "_PROMOTE_FROM", "_PROMOTE_BUCKET", "_TF_STATE_BUCKET", "_TF_PREFIX", "_DEPLOY"} {
		if !regexp.MustCompile(`(?m)^  ` + sub + `:`).MatchString(build) {
			t.Errorf("substitution %s is not declared", sub)
		}
	}
	steps := buildSteps(t, build)
	// automapSubstitutions: every declared substitution is in a step's
	// environment, with its default unless the trigger sets it.
	defaults := map[string]string{"PROJECT_ID": "p", "BUILD_ID": "b0", "COMMIT_SHA": ""}
	subs, _, _ := strings.Cut(build[strings.Index(build, "\nsubstitutions:\n"):], "\n\n")
	for _, m := range regexp.MustCompile(`(?m)^  (_[A-Z_]+): (.*)$`).FindAllStringSubmatch(subs, -1) {
		defaults[m[1]] = strings.Trim(m[2], `"`)
	}
	substitutions := func(set map[string]string) map[string]string {
		env := maps.Clone(defaults)
		maps.Copy(env, set)
		return env
	}
	for _, id := range []string{"promotion", "tfvars", "terraform", "smoke", "doctor", "passed"} {
		if _, ok := steps[id]; !ok {
			t.Fatalf("no step %s (steps: %v)", id, steps)
		}
	}
	needs := map[string][]string{
		"terraform": {"vet", "test", "tfvars", "promotion"}, // never deploys a commit the gate refused
		"smoke":     {"terraform"},
		"doctor":    {"smoke"},
		"passed":    {"smoke", "doctor"}, // marks only what was checked
	}
	for id, want := range needs {
		for _, w := range want {
			if !slices.Contains(steps[id].waitFor, w) {
				t.Errorf("step %s does not wait for %s (waitFor %v)", id, w, steps[id].waitFor)
			}
		}
	}

	tf := steps["terraform"].script
	for _, want := range []string{
		`-backend-config="prefix=$_TF_PREFIX/$_ENVIRONMENT"`, // one state per environment
		`-var="environment=$_ENVIRONMENT"`,
	} {
		if !strings.Contains(tf, want) {
			t.Errorf("the terraform step lacks %s", want)
		}
	}
	doctor := steps["doctor"].script
	if !strings.Contains(doctor, `go run ./cmd/experthub doctor --base-url "$PUBLIC_BASE_URL"`) {
		t.Errorf("the doctor step does not run experthub doctor against the deployment:\n%s", doctor)
	}
	if !strings.Contains(doctor, "go run ./cmd/experthub help 2>&1 | grep -q doctor") {
		t.Errorf("the doctor step is not skipped when the command has no doctor:\n%s", doctor)
	}

	// The gate and the mark agree on where a passed commit is recorded.
	const sha = "0123456789abcdef0123456789abcdef01234567"
	staging := substitutions(map[string]string{"_TF_STATE_BUCKET": "st-tfstate", "COMMIT_SHA": sha, "BUILD_ID": "b1"})
	out, err := runStep(t, steps["passed"], staging, "")
	mark := "gs://st-tfstate/expert-hub/staging/passed/" + sha
	if err != nil || !strings.Contains(out, "storage cp - "+mark) {
		t.Errorf("staging's passed step: %v\n%s; want the mark %s", err, out, mark)
	}
	plan := substitutions(map[string]string{"_TF_STATE_BUCKET": "st-tfstate", "_DEPLOY": "false", "COMMIT_SHA": sha})
	if out, err := runStep(t, steps["passed"], plan, ""); err != nil || strings.Contains(out, "storage cp") {
		t.Errorf("a plan-only build marked the commit: %v\n%s", err, out)
	}

	production := substitutions(map[string]string{"_ENVIRONMENT": "production", "_TF_STATE_BUCKET": "pr-tfstate",
		"_PROMOTE_FROM": "staging", "_PROMOTE_BUCKET": "st-tfstate", "COMMIT_SHA": sha})
	cases := []struct {
		name    string
		env     map[string]string
		missing string
		ok      bool
	}{
		{"passed staging", production, "", true},
		{"not passed staging", production, "passed/" + sha, false},
		{"no commit (manual build)", with(production, "COMMIT_SHA", ""), "", false},
		{"no gate (staging)", staging, "passed/", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := runStep(t, steps["promotion"], c.env, c.missing)
			if (err == nil) != c.ok {
				t.Errorf("promotion step: error %v, want ok %v\n%s", err, c.ok, out)
			}
			if c.ok && c.env["_PROMOTE_FROM"] != "" && !strings.Contains(out, "storage objects describe "+mark) {
				t.Errorf("the gate does not look for staging's mark %s:\n%s", mark, out)
			}
		})
	}

	// The settings must be the environment's own.
	tfvars := steps["tfvars"]
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "terraform"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"staging": "environment = \"staging\"\n", "production": "environment = \"production\"\n"} {
		st := tfvars
		// The fake copy writes the bucket's file.
		st.script = "cd " + dir + "\n" + strings.Replace(st.script, "gcloud storage cp",
			"printf '"+strings.ReplaceAll(content, "\"", `\"`)+"' > terraform/ci.tfvars; gcloud storage cp", 1)
		out, err := runStep(t, st, staging, "")
		if (err == nil) != (name == "staging") {
			t.Errorf("staging build with %s's tfvars: error %v\n%s", name, err, out)
		}
		if !strings.Contains(out, "gs://st-tfstate/expert-hub/staging.tfvars") {
			t.Errorf("tfvars not read from the environment's object:\n%s", out)
		}
	}
}

func with(m map[string]string, k, v string) map[string]string {
	out := maps.Clone(m)
	out[k] = v
	return out
}
