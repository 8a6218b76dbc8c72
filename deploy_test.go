package experthub

// The deployment is described three times: the registered EntryPoints and
// config.Vars (the code), terraform/ (the Terraform path, with
// cloudbuild.yaml) and internal/deploy (the gcloud path). These tests fail
// when one of them renames a function, a variable or a secret, or changes
// the runtime or the Firestore indexes, without the others.

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/deploy"
)

// deployInputs is everything the consistency check compares.
type deployInputs struct {
	files       map[string]string // module-relative path → content
	entryPoints []string
	steps       []deploy.Step // the gcloud path's commands
}

func loadDeployInputs(t *testing.T) deployInputs {
	t.Helper()
	in := deployInputs{files: map[string]string{}, entryPoints: slices.Clone(EntryPoints)}
	paths, err := filepath.Glob("terraform/*.tf")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no terraform/*.tf (%v)", err)
	}
	paths = append(paths, "cloudbuild.yaml", "go.mod", deploy.IndexesFile, "terraform/example.tfvars")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		in.files[filepath.ToSlash(p)] = string(b)
	}
	// Settings that wire every optional secret but the Strapi token.
	in.steps, err = deploy.Plan(deploy.Settings{
		Project: "consistency-test", Region: "europe-west1", Source: ".",
		Env: map[string]string{
			"TWILIO_ACCOUNT_SID":        "AC0123456789abcdef0123456789abcdef",
			"TWILIO_API_KEY":            "SK0123456789abcdef0123456789abcdef",
			"FRONTLINE_WORKSPACE":       "WS0123456789abcdef0123456789abcdef",
			"FRONTLINE_PROXY_NUMBER_FR": "+33757500000",
			"STRAPI_URL":                "https://cms.example.com",
			"STRAPI_IDENTIFIER":         "frontline_app",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func (in deployInputs) clone() deployInputs {
	out := deployInputs{files: maps.Clone(in.files), entryPoints: slices.Clone(in.entryPoints)}
	for _, st := range in.steps {
		st.Args = slices.Clone(st.Args)
		out.steps = append(out.steps, st)
	}
	return out
}

// check returns every inconsistency between the three descriptions.
func (in deployInputs) check() []string {
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	tf := in.terraform()
	mainTF := in.files["terraform/main.tf"]

	// Functions: one per entry point, everywhere, with the same settings.
	entry := sorted(in.entryPoints)
	functions, ok := hclBlock(mainTF, "functions")
	if !ok {
		fail("terraform/main.tf: no functions map")
	}
	if got := sorted(hclKeys(functions)); !slices.Equal(got, entry) {
		fail("terraform functions %v != EntryPoints %v", got, entry)
	}
	var goNames []string
	for _, f := range deploy.Functions {
		goNames = append(goNames, f.Name)
		want := map[string]string{
			"memory": strconv.Quote(f.Memory), "cpu": strconv.Quote(f.CPU),
			"concurrency":     strconv.Itoa(f.Concurrency),
			"timeout_seconds": strconv.Itoa(int(f.Timeout.Seconds())),
			"min_instances":   strconv.Itoa(f.MinInstances), "max_instances": strconv.Itoa(f.MaxInstances),
		}
		entry := hclEntry(functions, f.Name)
		if entry == "" {
			continue // reported with the names below
		}
		settings := hclAttrs(entry)
		for k, v := range want {
			if settings[k] != v {
				fail("function %s: terraform %s = %s, internal/deploy has %s", f.Name, k, settings[k], v)
			}
		}
	}
	if got := sorted(goNames); !slices.Equal(got, entry) {
		fail("deploy.Functions %v != EntryPoints %v", got, entry)
	}
	var deployed, invoked []string
	for _, st := range in.steps {
		switch {
		case hasPrefix(st.Args, "functions", "deploy"):
			deployed = append(deployed, st.Args[2])
			if ep, _ := flag(st.Args, "entry-point"); ep != st.Args[2] {
				fail("gcloud deploys %s with entry point %q", st.Args[2], ep)
			}
			if rt, _ := flag(st.Args, "runtime"); rt != deploy.Runtime {
				fail("gcloud deploys %s with runtime %q, want %s", st.Args[2], rt, deploy.Runtime)
			}
			problems = append(problems, checkGcloudEnv(st.Args)...)
		case hasPrefix(st.Args, "run", "services", "add-iam-policy-binding") && slices.Contains(st.Args, "--member=allUsers"):
			invoked = append(invoked, st.Args[3])
		}
	}
	if got := sorted(deployed); !slices.Equal(got, entry) {
		fail("gcloud deploys %v != EntryPoints %v", got, entry)
	}
	if got := sorted(invoked); !slices.Equal(got, entry) {
		fail("gcloud makes %v public, want every entry point %v", got, entry)
	}
	if !regexp.MustCompile(`for_each\s*=\s*google_cloudfunctions2_function\.fn\s+location`).MatchString(mainTF) {
		fail("terraform/main.tf: the public invoker must cover every function (for_each over google_cloudfunctions2_function.fn)")
	}
	for _, name := range regexp.MustCompile(`functions deploy (\S+)`).FindAllStringSubmatch(in.files["cloudbuild.yaml"], -1) {
		if !slices.Contains(entry, name[1]) {
			fail("cloudbuild.yaml deploys %s, not an entry point", name[1])
		}
	}

	// Runtime: go.mod's go directive, Terraform and internal/deploy agree.
	if m := regexp.MustCompile(`(?m)^go (\d+)\.(\d+)`).FindStringSubmatch(in.files["go.mod"]); m == nil {
		fail("go.mod: no go directive")
	} else if want := "go" + m[1] + m[2]; deploy.Runtime != want {
		fail("deploy.Runtime %s != %s from go.mod", deploy.Runtime, want)
	}
	if m := regexp.MustCompile(`(?m)^toolchain go(\d+)\.(\d+)`).FindStringSubmatch(in.files["go.mod"]); m != nil && "go"+m[1]+m[2] != deploy.Runtime {
		fail("go.mod's toolchain line go%s.%s is not the runtime's Go (buildpacks#528)", m[1], m[2])
	}
	if got := regexp.MustCompile(`runtime\s*=\s*"([^"]+)"`).FindAllStringSubmatch(tf, -1); len(got) != 1 || got[0][1] != deploy.Runtime {
		fail("terraform runtime %v, want exactly one %q", got, deploy.Runtime)
	}

	// Environment: every name is a config.Vars setting and never a secret.
	env, ok := hclBlock(mainTF, "env")
	if !ok {
		fail("terraform/main.tf: no env map")
	}
	tfEnv := hclKeys(env)
	proxy, _ := hclBlock(mainTF, "proxy_number_env")
	for _, m := range regexp.MustCompile(`"([A-Z][A-Z0-9_]*_)\$\{[^}]*\}"`).FindAllStringSubmatch(proxy, -1) {
		family := ""
		for _, v := range config.Vars {
			if prefix, _, ok := strings.Cut(v.Name, "<"); ok && prefix == m[1] {
				family = v.Name
			}
		}
		if family == "" {
			fail("terraform sets %s<...>, not a config.Vars family", m[1])
			continue
		}
		tfEnv = append(tfEnv, family)
	}
	for _, name := range tfEnv {
		problems = append(problems, checkPlainEnv("terraform", name)...)
	}
	// Both paths set what deploy owns.
	for _, name := range []string{"PUBLIC_BASE_URL", "GOOGLE_CLOUD_PROJECT", "SYNC_SCHEDULER_SERVICE_ACCOUNT", "SYNC_OIDC_AUDIENCE", "FIRESTORE_COLLECTION"} {
		if !slices.Contains(tfEnv, name) {
			fail("terraform does not set %s", name)
		}
	}
	for _, m := range regexp.MustCompile(`(?m)^\s*-\s*([A-Z][A-Z0-9_]*)=`).FindAllStringSubmatch(in.files["cloudbuild.yaml"], -1) {
		if name := m[1]; !toolVar(name) {
			problems = append(problems, checkPlainEnv("cloudbuild.yaml", name)...)
		}
	}

	// Secrets: every secret setting has a Secret Manager secret, named the
	// same way on both paths.
	secretsTF := in.files["terraform/secrets.tf"]
	ids, ok := hclBlock(secretsTF, "secret_ids")
	if !ok {
		fail("terraform/secrets.tf: no secret_ids map")
	}
	tfIDs := hclAttrs(ids)
	if got, want := sorted(slices.Collect(maps.Keys(tfIDs))), sorted(deploy.SecretVars()); !slices.Equal(got, want) {
		fail("terraform secrets %v != config.Vars secrets %v", got, want)
	}
	for name, id := range tfIDs {
		if want := strconv.Quote(deploy.SecretID(name)); id != want {
			fail("terraform stores %s in %s, the gcloud path in %s", name, id, want)
		}
	}
	inUse, _ := hclBlock(secretsTF, "secret_in_use")
	for _, name := range hclKeys(inUse) {
		if _, ok := tfIDs[name]; !ok {
			fail("terraform secret_in_use names %s, not a secret", name)
		}
	}
	var created []string
	for _, st := range in.steps {
		if hasPrefix(st.Args, "secrets", "create") {
			created = append(created, st.Args[2])
		}
	}
	var wantCreated []string
	for _, name := range deploy.SecretVars() {
		wantCreated = append(wantCreated, deploy.SecretID(name))
	}
	if !slices.Equal(sorted(created), sorted(wantCreated)) {
		fail("gcloud creates secrets %v, want %v", created, wantCreated)
	}

	// Firestore: both paths create the indexes internal/fsstore lists.
	if !strings.Contains(in.files["terraform/firestore.tf"], `file("${path.module}/../`+deploy.IndexesFile+`")`) {
		fail("terraform/firestore.tf does not read %s", deploy.IndexesFile)
	}
	problems = append(problems, in.checkIndexes()...)
	if d := hclAttrs(hclVariable(tf, "firestore_collection"))["default"]; d != strconv.Quote(defaultOf("FIRESTORE_COLLECTION")) {
		fail("terraform firestore_collection default %s != config default %q", d, defaultOf("FIRESTORE_COLLECTION"))
	}

	// The rest of what both paths must agree on.
	apis, _ := hclBlock(in.files["terraform/apis.tf"], "apis")
	if got, want := quoted(apis), sorted(deploy.APIs); !slices.Equal(sorted(got), want) {
		fail("terraform APIs %v != deploy.APIs %v", got, want)
	}
	accounts := regexp.MustCompile(`account_id\s*=\s*"([^"]+)"`).FindAllStringSubmatch(in.files["terraform/iam.tf"], -1)
	var gotAccounts []string
	for _, m := range accounts {
		gotAccounts = append(gotAccounts, m[1])
	}
	if want := sorted([]string{deploy.RuntimeAccount, deploy.BuildAccount, deploy.SchedulerAccount}); !slices.Equal(sorted(gotAccounts), want) {
		fail("terraform service accounts %v != internal/deploy's %v", gotAccounts, want)
	}
	outputs := in.files["terraform/outputs.tf"]
	for name, want := range map[string][]string{
		"pre_event_filters":  deploy.PreEventFilters,
		"post_event_filters": deploy.PostEventFilters,
		"strapi_events":      deploy.StrapiEvents,
	} {
		var got []string
		if m := regexp.MustCompile(`(?m)^\s*` + name + `\s*=\s*\[([^\]]*)\]`).FindStringSubmatch(outputs); m != nil {
			got = quoted(m[1])
		}
		if !slices.Equal(got, want) {
			fail("terraform %s = %q, internal/deploy has %q", name, got, want)
		}
	}
	problems = append(problems, checkTerraformReferences(in.files)...)
	return unique(problems) // one line per problem, not one per function
}

func unique(s []string) []string {
	seen := map[string]bool{}
	return slices.DeleteFunc(s, func(x string) bool {
		dup := seen[x]
		seen[x] = true
		return dup
	})
}

// terraform returns all .tf files, concatenated.
func (in deployInputs) terraform() string {
	var b strings.Builder
	for _, p := range sorted(slices.Collect(maps.Keys(in.files))) {
		if strings.HasSuffix(p, ".tf") {
			b.WriteString(in.files[p] + "\n")
		}
	}
	return b.String()
}

func (in deployInputs) checkIndexes() []string {
	path := filepath.Join(os.TempDir(), fmt.Sprintf("indexes-%d.json", os.Getpid()))
	if err := os.WriteFile(path, []byte(in.files[deploy.IndexesFile]), 0o600); err != nil {
		return []string{err.Error()}
	}
	defer os.Remove(path)
	indexes, err := deploy.ReadIndexes(path)
	if err != nil {
		return []string{err.Error()}
	}
	var want []string
	for _, ix := range indexes {
		if ix.CollectionGroup != defaultOf("FIRESTORE_COLLECTION") {
			return []string{fmt.Sprintf("%s: index on %q, but the deploy paths index FIRESTORE_COLLECTION (default %q)",
				deploy.IndexesFile, ix.CollectionGroup, defaultOf("FIRESTORE_COLLECTION"))}
		}
		var fields []string
		for _, f := range ix.Fields {
			fields = append(fields, f.FieldPath+" "+strings.ToLower(f.Order+f.ArrayConfig))
		}
		want = append(want, strings.Join(fields, ", "))
	}
	var got []string
	for _, st := range in.steps {
		if !hasPrefix(st.Args, "firestore", "indexes", "composite", "create") {
			continue
		}
		var fields []string
		for _, a := range st.Args {
			if c, ok := strings.CutPrefix(a, "--field-config=field-path="); ok {
				path, mode, _ := strings.Cut(c, ",")
				_, mode, _ = strings.Cut(mode, "=")
				fields = append(fields, path+" "+mode)
			}
		}
		got = append(got, strings.Join(fields, ", "))
	}
	if !slices.Equal(sorted(got), sorted(want)) {
		return []string{fmt.Sprintf("gcloud creates indexes %q, %s lists %q", got, deploy.IndexesFile, want)}
	}
	return nil
}

// checkGcloudEnv checks a functions deploy command's variables.
func checkGcloudEnv(args []string) []string {
	var problems []string
	env, _ := flag(args, "set-env-vars")
	for name := range dict(env) {
		problems = append(problems, checkPlainEnv("gcloud", name)...)
	}
	secrets, _ := flag(args, "set-secrets")
	for name, ref := range dict(secrets) {
		v, ok := deploy.Lookup(name)
		if !ok || !v.Secret {
			problems = append(problems, fmt.Sprintf("gcloud reads %s from Secret Manager, but it is not a config.Vars secret", name))
		}
		if want := deploy.SecretID(name) + ":latest"; ref != want {
			problems = append(problems, fmt.Sprintf("gcloud reads %s from %s, want %s", name, ref, want))
		}
	}
	return problems
}

// checkPlainEnv checks a variable set as a plain environment variable.
func checkPlainEnv(where, name string) []string {
	v, ok := deploy.Lookup(name)
	switch {
	case !ok:
		return []string{fmt.Sprintf("%s sets %s, which is not in config.Vars", where, name)}
	case v.Secret:
		return []string{fmt.Sprintf("%s sets secret %s as a plain environment variable", where, name)}
	case where != "cloudbuild.yaml" && v.Local:
		return []string{fmt.Sprintf("%s sets %s, which only applies to local runs", where, name)}
	}
	return nil
}

// toolVar reports whether a cloudbuild.yaml variable configures a build
// tool rather than the product.
func toolVar(name string) bool {
	return strings.HasPrefix(name, "TF_") || name == "CHECKPOINT_DISABLE" ||
		strings.HasPrefix(name, "GO") || name == "CGO_ENABLED"
}

// checkTerraformReferences stands in for part of `terraform validate`,
// which needs the providers and cannot run offline: every var.x and
// local.x used is declared.
func checkTerraformReferences(files map[string]string) []string {
	var tf strings.Builder
	for p, content := range files {
		if strings.HasSuffix(p, ".tf") {
			tf.WriteString("\n" + content)
		}
	}
	src := tf.String()
	declared := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^variable "([^"]+)"`).FindAllStringSubmatch(src, -1) {
		declared["var."+m[1]] = true
	}
	for rest := src; ; {
		i := strings.Index(rest, "\nlocals {")
		if i < 0 {
			break
		}
		body, _ := braced(rest[i+len("\nlocals "):])
		for _, k := range hclKeys(body) {
			declared["local."+k] = true
		}
		rest = rest[i+1:]
	}
	var problems []string
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile(`\b(?:var|local)\.[a-z_][a-z0-9_]*`).FindAllString(src, -1) {
		if !declared[m] && !seen[m] {
			seen[m] = true
			problems = append(problems, "terraform uses undeclared "+m)
		}
	}
	for _, m := range regexp.MustCompile(`(?m)^([a-z_]+)\s*=`).FindAllStringSubmatch(files["terraform/example.tfvars"], -1) {
		if !declared["var."+m[1]] {
			problems = append(problems, "terraform/example.tfvars sets undeclared variable "+m[1])
		}
	}
	return problems
}

func defaultOf(name string) string {
	v, _ := deploy.Lookup(name)
	return v.Default
}

// HCL helpers: enough for the shapes terraform fmt leaves in terraform/.

// hclBlock returns the body of the first `name = {` map in src.
func hclBlock(src, name string) (string, bool) {
	loc := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(name) + `\s*=\s*(?:toset\(\[|\{|\[)`).FindStringIndex(src)
	if loc == nil {
		return "", false
	}
	return braced(src[loc[1]-1:])
}

// hclVariable returns the body of variable "name".
func hclVariable(src, name string) string {
	i := strings.Index(src, `variable "`+name+`" {`)
	if i < 0 {
		return ""
	}
	body, _ := braced(src[i+len(`variable "`+name+`" `):])
	return body
}

// braced returns what the bracket at s[0] encloses.
func braced(s string) (string, bool) {
	depth := 0
	for i, r := range s {
		switch r {
		case '{', '[', '(':
			depth++
		case '}', ']', ')':
			depth--
			if depth == 0 {
				return s[1:i], true
			}
		}
	}
	return "", false
}

var keyPattern = regexp.MustCompile(`^\s*"?([A-Za-z0-9_<>-]+)"?\s*=[^=>]`)

// hclKeys returns the top-level keys of a map or block body.
func hclKeys(body string) []string {
	var keys []string
	depth := 0
	for _, line := range strings.Split(body, "\n") {
		if depth == 0 {
			if m := keyPattern.FindStringSubmatch(line + " "); m != nil && !strings.HasPrefix(strings.TrimSpace(line), "#") {
				keys = append(keys, m[1])
			}
		}
		depth += strings.Count(line, "{") + strings.Count(line, "[") + strings.Count(line, "(") -
			strings.Count(line, "}") - strings.Count(line, "]") - strings.Count(line, ")")
	}
	return keys
}

// hclEntry returns the value of key in a map body, on one line.
func hclEntry(body, key string) string {
	m := regexp.MustCompile(`(?m)^\s*"?` + regexp.QuoteMeta(key) + `"?\s*=\s*(.*)$`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

// hclAttrs returns key = value pairs (values as written) of a flat body
// or a one-line object.
func hclAttrs(body string) map[string]string {
	attrs := map[string]string{}
	for _, m := range regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)\s*=\s*("[^"]*"|[^,\s}]+)`).FindAllStringSubmatch(body, -1) {
		attrs[m[1]] = m[2]
	}
	return attrs
}

// quoted returns the quoted strings of s.
func quoted(s string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// gcloud helpers.

func hasPrefix(args []string, prefix ...string) bool {
	return len(args) >= len(prefix) && slices.Equal(args[:len(prefix)], prefix)
}

func flag(args []string, name string) (string, bool) {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// dict parses a gcloud dictionary flag value, with its ^DELIM^ syntax.
func dict(value string) map[string]string {
	delim := ","
	if strings.HasPrefix(value, "^") {
		if end := strings.Index(value[1:], "^"); end >= 0 {
			delim, value = value[1:end+1], value[end+2:]
		}
	}
	m := map[string]string{}
	if value == "" {
		return m
	}
	for _, item := range strings.Split(value, delim) {
		k, v, _ := strings.Cut(item, "=")
		m[k] = v
	}
	return m
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

func TestDeployConsistency(t *testing.T) {
	for _, p := range loadDeployInputs(t).check() {
		t.Error(p)
	}
}

// TestDeployConsistencyCatchesDrift renames things in one place only, in
// copies of the inputs, and expects the check to notice each.
func TestDeployConsistencyCatchesDrift(t *testing.T) {
	base := loadDeployInputs(t)
	if p := base.check(); len(p) > 0 {
		t.Fatalf("the repository itself is inconsistent: %v", p)
	}
	edit := func(path, old, new string) func(*testing.T, *deployInputs) {
		return func(t *testing.T, in *deployInputs) {
			if !strings.Contains(in.files[path], old) {
				t.Fatalf("%s does not contain %q", path, old)
			}
			in.files[path] = strings.Replace(in.files[path], old, new, 1)
		}
	}
	editSteps := func(old, new string) func(*testing.T, *deployInputs) {
		return func(t *testing.T, in *deployInputs) {
			n := 0
			for _, st := range in.steps {
				for i, a := range st.Args {
					if strings.Contains(a, old) {
						st.Args[i] = strings.ReplaceAll(a, old, new)
						n++
					}
				}
			}
			if n == 0 {
				t.Fatalf("no gcloud argument contains %q", old)
			}
		}
	}
	cases := []struct {
		name   string
		mutate func(*testing.T, *deployInputs)
		want   string
	}{
		{"entry point renamed in function.go only", func(t *testing.T, in *deployInputs) {
			in.entryPoints[slices.Index(in.entryPoints, "pre-event")] = "pre-hook"
		}, "!= EntryPoints"},
		{"function renamed in Terraform only", edit("terraform/main.tf", `"post-event" = {`, `"post-events" = {`), "terraform functions"},
		{"function dropped from the gcloud path", func(t *testing.T, in *deployInputs) {
			in.steps = slices.DeleteFunc(in.steps, func(st deploy.Step) bool {
				return hasPrefix(st.Args, "functions", "deploy", "routing")
			})
		}, "gcloud deploys"},
		{"function setting changed in Terraform only", edit("terraform/main.tf", "timeout_seconds = 900", "timeout_seconds = 300"), "function sync: terraform timeout_seconds"},
		{"env var renamed in Terraform only", edit("terraform/main.tf", "    STRAPI_URL ", "    STRAPI_URI "), "STRAPI_URI, which is not in config.Vars"},
		{"proxy family renamed in Terraform only", edit("terraform/main.tf", `"FRONTLINE_PROXY_NUMBER_${`, `"FRONTLINE_PROXY_${`), "FRONTLINE_PROXY_<...>"},
		{"secret set as a plain variable in Terraform", edit("terraform/main.tf", "    LOG_LEVEL ", "    STRAPI_PASSWORD = var.strapi_identifier\n    LOG_LEVEL "), "secret STRAPI_PASSWORD as a plain"},
		{"env var renamed in the gcloud path only", editSteps("STRAPI_IDENTIFIER=", "STRAPI_USER="), "gcloud sets STRAPI_USER"},
		{"secret set as a plain variable by gcloud", editSteps("--set-env-vars=", "--set-env-vars=TWILIO_AUTH_TOKEN=x,"), "secret TWILIO_AUTH_TOKEN as a plain"},
		{"secret renamed in the gcloud path only", editSteps("TWILIO_API_SECRET=", "TWILIO_SECRET="), "gcloud reads TWILIO_SECRET"},
		{"env var renamed in cloudbuild.yaml only", edit("cloudbuild.yaml", "- FIRESTORE_EMULATOR_HOST=", "- FIRESTORE_EMULATOR="), "cloudbuild.yaml sets FIRESTORE_EMULATOR,"},
		{"secret dropped from Terraform", edit("terraform/secrets.tf", "    STRAPI_PASSWORD       = \"strapi-password\"\n", ""), "terraform secrets"},
		{"secret id renamed in Terraform only", edit("terraform/secrets.tf", `"twilio-auth-token"`, `"twilio-token"`), "terraform stores TWILIO_AUTH_TOKEN"},
		{"go directive raised", edit("go.mod", "\ngo 1.", "\ngo 2."), "deploy.Runtime"},
		{"runtime changed in Terraform only", edit("terraform/main.tf", `runtime         = "go126"`, `runtime         = "go125"`), "terraform runtime"},
		{"index changed in indexes.json only", edit(deploy.IndexesFile, `"customer_id"`, `"display_name"`), "gcloud creates indexes"},
		{"Terraform stops reading indexes.json", edit("terraform/firestore.tf", "internal/fsstore/indexes.json", "internal/fsstore/other.json"), "does not read"},
		{"variable renamed in one place", edit("terraform/variables.tf", `variable "strapi_url"`, `variable "strapi_origin"`), "undeclared var.strapi_url"},
		{"API dropped from Terraform", edit("terraform/apis.tf", "\"cloudscheduler.googleapis.com\",\n", ""), "terraform APIs"},
		{"filter changed in Terraform only", edit("terraform/outputs.tf", `"onMessageAdded"]`, `"onMessageUpdated"]`), "post_event_filters"},
		{"service account renamed in Terraform only", edit("terraform/iam.tf", `"expert-hub-run"`, `"expert-hub-fn"`), "service accounts"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := base.clone()
			c.mutate(t, &in)
			problems := in.check()
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, c.want) }) {
				t.Errorf("no problem mentions %q; got %q", c.want, problems)
			}
		})
	}
}

// TestDeployUploadSelection checks what `gcloud functions deploy --source=.`
// uploads: the root package, internal/, go.mod and go.sum; no tests (a root
// test package would break the build), docs, Terraform or dotfiles.
func TestDeployUploadSelection(t *testing.T) {
	gcloud, err := exec.LookPath("gcloud")
	if err != nil {
		t.Skip("gcloud not installed")
	}
	out, err := exec.Command(gcloud, "meta", "list-files-for-upload", ".").Output()
	if err != nil {
		t.Skipf("gcloud meta list-files-for-upload: %v", err)
	}
	files := strings.Fields(string(out))
	for _, f := range files {
		base := filepath.Base(f)
		topLevelSource := !strings.Contains(f, "/") && (f == "go.mod" || f == "go.sum" || strings.HasSuffix(f, ".go"))
		switch {
		case strings.HasSuffix(f, "_test.go"), strings.HasSuffix(f, ".md"), strings.Contains("/"+f, "/testdata/"),
			strings.HasPrefix(base, "."), !topLevelSource && !strings.HasPrefix(f, "internal/"):
			t.Errorf("uploaded: %s", f)
		}
	}
	roots, _ := filepath.Glob("*.go")
	for _, want := range append([]string{"go.mod", "go.sum", deploy.IndexesFile}, roots...) {
		if strings.HasSuffix(want, "_test.go") {
			continue
		}
		if !slices.Contains(files, want) {
			t.Errorf("not uploaded: %s", want)
		}
	}
}

// TestDeployTerraformFormatted runs `terraform fmt -check` when terraform
// is installed (terraform validate needs the providers, see
// terraform/README.md).
func TestDeployTerraformFormatted(t *testing.T) {
	tf, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("terraform not installed")
	}
	cmd := exec.Command(tf, "fmt", "-check", "-recursive", "terraform")
	cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE=/dev/null", "CHECKPOINT_DISABLE=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("terraform fmt -check: %v; run terraform fmt -recursive terraform on:\n%s", err, out)
	}
}
