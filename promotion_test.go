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
		`terraform plan -lock=false`, // a PR build's account cannot write the state
		`terraform output -raw promotion_bucket > /workspace/promotion_bucket.txt`,
	} {
		if !strings.Contains(tf, want) {
			t.Errorf("the terraform step lacks %s", want)
		}
	}
	// The tfvars are the one source of the project and the region.
	for _, override := range []string{`-var="project=`, `-var="region=`} {
		if strings.Contains(tf, override) {
			t.Errorf("the terraform step overrides the tfvars with %s", override)
		}
	}
	doctor := steps["doctor"].script
	if !strings.Contains(doctor, `go run ./cmd/experthub doctor --base-url "$PUBLIC_BASE_URL"`) {
		t.Errorf("the doctor step does not run experthub doctor against the deployment:\n%s", doctor)
	}
	if !strings.Contains(doctor, "go run ./cmd/experthub help 2>&1 | grep -q doctor") {
		t.Errorf("the doctor step is not skipped when the command has no doctor:\n%s", doctor)
	}

	// The gate and the mark agree on where a passed commit is recorded:
	// the promotion bucket Terraform made (its output), never the state
	// bucket.
	const sha = "0123456789abcdef0123456789abcdef01234567"
	workspace := t.TempDir()
	passed := steps["passed"]
	passed.script = strings.ReplaceAll(passed.script, "/workspace/", workspace+"/")
	writeBucket := func(name string) {
		if err := os.WriteFile(filepath.Join(workspace, "promotion_bucket.txt"), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeBucket("p-eh-staging-passed")
	staging := substitutions(map[string]string{"_TF_STATE_BUCKET": "st-tfstate", "COMMIT_SHA": sha, "BUILD_ID": "b1"})
	out, err := runStep(t, passed, staging, "describe")
	mark := "gs://p-eh-staging-passed/passed/" + sha
	if err != nil || !strings.Contains(out, "storage cp - "+mark) {
		t.Errorf("staging's passed step: %v\n%s; want the mark %s", err, out, mark)
	}
	// A mark that exists stays: the writer may create, not replace.
	if out, err := runStep(t, passed, staging, ""); err != nil || strings.Contains(out, "storage cp") {
		t.Errorf("the passed step replaced an existing mark: %v\n%s", err, out)
	}
	plan := substitutions(map[string]string{"_TF_STATE_BUCKET": "st-tfstate", "_DEPLOY": "false", "COMMIT_SHA": sha})
	if out, err := runStep(t, passed, plan, "describe"); err != nil || strings.Contains(out, "storage cp") {
		t.Errorf("a plan-only build marked the commit: %v\n%s", err, out)
	}
	writeBucket("")
	if out, err := runStep(t, passed, staging, "describe"); err != nil || strings.Contains(out, "storage cp") {
		t.Errorf("an environment without a promotion bucket marked the commit: %v\n%s", err, out)
	}

	production := substitutions(map[string]string{"_ENVIRONMENT": "production", "_TF_STATE_BUCKET": "pr-tfstate",
		"_PROMOTE_FROM": "staging", "_PROMOTE_BUCKET": "p-eh-staging-passed", "COMMIT_SHA": sha})
	cases := []struct {
		name    string
		env     map[string]string
		missing string
		ok      bool
	}{
		{"passed staging", production, "", true},
		{"not passed staging", production, "passed/" + sha, false},
		{"no commit (manual build)", with(production, "COMMIT_SHA", ""), "", false},
		// The state bucket is no place for marks: more accounts write it.
		{"no promotion bucket", with(production, "_PROMOTE_BUCKET", ""), "", false},
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
	// staging runs in project p (PROJECT_ID); the tfvars are the one
	// source of project and region, which the build's must not contradict.
	const good = "project = \"p\"\nenvironment = \"staging\"\nregion = \"europe-west1\"\n"
	tfvarsCases := []struct {
		name, content, region string
		ok                    bool
	}{
		{"staging's", good, "", true},
		{"staging's, _REGION agrees", good, "europe-west1", true},
		{"production's", strings.Replace(good, `"staging"`, `"production"`, 1), "", false},
		{"another project's", strings.Replace(good, `"p"`, `"q"`, 1), "", false},
		{"no project", strings.Replace(good, "project = \"p\"\n", "", 1), "", false},
		{"_REGION disagrees", good, "us-central1", false},
	}
	for _, c := range tfvarsCases {
		st := tfvars
		// The fake copy writes the bucket's file.
		st.script = "cd " + dir + "\n" + strings.Replace(st.script, "gcloud storage cp",
			"printf '"+strings.ReplaceAll(c.content, "\"", `\"`)+"' > terraform/ci.tfvars; gcloud storage cp", 1)
		out, err := runStep(t, st, with(staging, "_REGION", c.region), "")
		if (err == nil) != c.ok {
			t.Errorf("staging build with %s tfvars: error %v, want ok %v\n%s", c.name, err, c.ok, out)
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

// TestPromotionMarkUnforgeable checks, on the planned IAM (the evaluated
// terraform/deployment module and the description's project roles), that
// only the main-branch trigger's account may write staging's "passed"
// marks: not the pull-request trigger's (a PR's build runs the PR's code),
// not production's, not the deployment's own accounts.
func TestPromotionMarkUnforgeable(t *testing.T) {
	tf, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("terraform not installed: the module cannot be evaluated")
	}
	in := loadDeployInputs(t)
	const (
		mainTrigger = "serviceAccount:eh-ci-deploy@st.iam.gserviceaccount.com"
		prTrigger   = "serviceAccount:eh-ci-plan@st.iam.gserviceaccount.com"
		prodTrigger = "serviceAccount:eh-ci-deploy@pr.iam.gserviceaccount.com"
	)
	args := func(writers, readers string) []string {
		return []string{"  promotion_writers = " + writers, "  promotion_readers = " + readers}
	}
	m, err := evaluateModule(t, tf, in.files, "st-project", "europe-west1", "staging", map[string]string{},
		args(`["`+mainTrigger+`"]`, `["`+prodTrigger+`"]`)...)
	if err != nil {
		t.Fatal(err)
	}
	if m.Promotion.Bucket != "st-project-eh-staging-passed" {
		t.Errorf("promotion bucket %q", m.Promotion.Bucket)
	}
	// Roles that may create, replace or delete an object.
	writes := func(role string) bool {
		return role == "roles/storage.objectCreator" || role == "roles/storage.objectAdmin" || role == "roles/storage.admin" ||
			role == "roles/storage.objectUser" || role == "roles/storage.legacyBucketWriter" || role == "roles/storage.legacyBucketOwner"
	}
	for _, g := range m.Promotion.Grants {
		if writes(g.Role) && g.Member != mainTrigger {
			t.Errorf("%s may write the marks (%s)", g.Member, g.Role)
		}
		if g.Member == prTrigger {
			t.Errorf("the pull-request trigger's account has %s on the marks", g.Role)
		}
	}
	can := func(member, role string) bool {
		return slices.ContainsFunc(slices.Collect(maps.Values(m.Promotion.Grants)), func(g struct{ Role, Member string }) bool {
			return g.Member == member && g.Role == role
		})
	}
	if !can(mainTrigger, "roles/storage.objectCreator") || !can(prodTrigger, "roles/storage.objectViewer") {
		t.Errorf("grants %v: the main trigger must create marks, production's trigger read them", m.Promotion.Grants)
	}
	// No account of the deployment reaches the marks through a project role.
	for key, r := range m.ProjectRoles {
		if !strings.HasPrefix(r.Role, "roles/storage.") {
			continue
		}
		if r.Condition == nil || conditionHolds(t, r.Condition.Expression, "projects/_/buckets/"+m.Promotion.Bucket+"/objects/passed/x") {
			t.Errorf("project role %s (%s for %s) covers the marks", key, r.Role, r.Account)
		}
	}
	// One account cannot be both: the trigger that writes is not the one
	// that reads (the next environment's).
	if _, err := evaluateModule(t, tf, in.files, "st-project", "europe-west1", "staging", map[string]string{},
		args(`["`+mainTrigger+`"]`, `["`+mainTrigger+`"]`)...); err == nil || !strings.Contains(err.Error(), "promotion_readers must not hold a promotion writer") {
		t.Errorf("a writer among the readers: %v", err)
	}
	// The root module grants on the marks exactly the module's grants.
	root := in.rootTerraform()
	if n := regexp.MustCompile(`(?m)^resource "google_storage_bucket_iam_[a-z]+"`).FindAllString(root, -1); len(n) != 1 {
		t.Errorf("terraform/ has %d bucket IAM resources; want one, the promotion bucket's", len(n))
	}
	if grants, _ := hclResource(root, "google_storage_bucket_iam_member", "promotion"); !strings.Contains(grants, "module.deployment.promotion.grants") ||
		!strings.Contains(grants, "bucket   = google_storage_bucket.promotion[0].name") {
		t.Errorf("terraform/promotion.tf does not grant the module's promotion grants on the promotion bucket:\n%s", grants)
	}
	checkTriggerAccounts(t)
}

// checkTriggerAccounts checks docs/deploy.md's triggers: the pull-request
// trigger runs as an account of its own, whose roles write nothing.
func checkTriggerAccounts(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile("docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	accounts := map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(expert-hub-[a-z]+)` \\| [^|]+\\| `([^`]+)` \\|").FindAllStringSubmatch(string(b), -1) {
		accounts[m[1]] = m[2]
	}
	pr, main := accounts["expert-hub-pr"], accounts["expert-hub-staging"]
	if pr == "" || main == "" || pr == main {
		t.Errorf("docs/deploy.md's triggers: pull request as %q, main as %q; want two accounts", pr, main)
	}
	_, roles, ok := strings.Cut(string(b), "The pull-request trigger's account has only these roles:")
	if !ok {
		t.Fatal(`docs/deploy.md has no "The pull-request trigger's account has only these roles:"`)
	}
	roles, _, _ = strings.Cut(roles, "\n\n")
	for _, role := range regexp.MustCompile("roles/[A-Za-z.]+").FindAllString(roles, -1) {
		if role != "roles/viewer" && role != "roles/iam.securityReviewer" && role != "roles/logging.logWriter" && !strings.HasSuffix(role, "Viewer") {
			t.Errorf("the pull-request trigger's account has %s, which may write", role)
		}
	}
}

// TestCloudbuildDoctorSecrets runs the doctor's steps with a fake gcloud
// and go: every wired Twilio and contact-center secret Terraform lists
// (doctor_secrets) is read into a file only the build's user may read, and
// reaches experthub doctor as its variable.
func TestCloudbuildDoctorSecrets(t *testing.T) {
	b, err := os.ReadFile("cloudbuild.yaml")
	if err != nil {
		t.Fatal(err)
	}
	steps := buildSteps(t, string(b))
	workspace := t.TempDir()
	listed := "TWILIO_AUTH_TOKEN=eh-staging-twilio-auth-token\nFLEX_AUTH_TOKEN=eh-staging-flex-auth-token\nHANDOFF_SECRET=eh-staging-handoff-secret\n"
	if err := os.WriteFile(filepath.Join(workspace, "doctor_secrets.txt"), []byte(listed), 0o644); err != nil {
		t.Fatal(err)
	}
	read := steps["doctor-secret"]
	read.script = strings.ReplaceAll(read.script, "/workspace/", workspace+"/")
	out, err := runStep(t, read, map[string]string{"_DEPLOY": "true", "PROJECT_ID": "p"}, "")
	if err != nil {
		t.Fatalf("doctor-secret: %v\n%s", err, out)
	}
	for _, line := range strings.Fields(listed) {
		name, secret, _ := strings.Cut(line, "=")
		if !strings.Contains(out, "secrets versions access latest --secret="+secret+" --project=p") {
			t.Errorf("%s (%s) not read:\n%s", name, secret, out)
		}
		fi, err := os.Stat(filepath.Join(workspace, ".secrets", name))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want a file only the build's user reads", name, err, fi)
		}
		if err := os.WriteFile(filepath.Join(workspace, ".secrets", name), []byte("value-of-"+name), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	// The doctor step exports them: a fake go prints what doctor gets.
	bin := t.TempDir()
	fakeGo := "#!/usr/bin/env bash\ncase \"$*\" in *\" help\"*) echo doctor; exit 0;; esac\necho \"TWILIO=$TWILIO_AUTH_TOKEN FLEX=$FLEX_AUTH_TOKEN HANDOFF=$HANDOFF_SECRET args=$*\"\n"
	if err := os.WriteFile(filepath.Join(bin, "go"), []byte(fakeGo), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(workspace, ".env"), []byte("PUBLIC_BASE_URL=\"https://r-p.cloudfunctions.net\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	doctor := steps["doctor"]
	doctor.script = "cd " + workspace + "\n" + strings.ReplaceAll(doctor.script, "/workspace/", workspace+"/")
	out, err = runStep(t, doctor, map[string]string{"_DEPLOY": "true", "_ENVIRONMENT": "staging", "PATH": bin + ":" + os.Getenv("PATH")}, "")
	want := "TWILIO=value-of-TWILIO_AUTH_TOKEN FLEX=value-of-FLEX_AUTH_TOKEN HANDOFF=value-of-HANDOFF_SECRET args=run ./cmd/experthub doctor --base-url https://r-p.cloudfunctions.net --environment staging"
	if err != nil || !strings.Contains(out, want) {
		t.Errorf("doctor step: %v\n%s\nwant %s", err, out, want)
	}
}
