package experthub

// Environments (docs/deploy.md, "Environments"): staging and production
// deploy side by side, in one project if need be, from one Terraform and
// one gcloud path. These tests check that no unique name of one is a name
// of the other, on both paths, and that the tfvars examples are complete.

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/experthub/experthub/internal/deployment"
	"github.com/experthub/experthub/internal/gcloudplan"
)

var environments = []string{"staging", "production"}

// disjoint names every name two sets share.
func disjoint(a, b []string) []string {
	var shared []string
	for _, n := range a {
		if slices.Contains(b, n) {
			shared = append(shared, n)
		}
	}
	return shared
}

// terraformNames are the unique names the Terraform path gives an
// environment, from the evaluated module.
func terraformNames(m tfModule) []string {
	var names []string
	for _, a := range m.Accounts {
		names = append(names, "service account "+a.ID)
	}
	for _, id := range m.SecretIDs {
		names = append(names, "secret "+id)
	}
	for _, q := range m.Queues {
		names = append(names, "queue "+q.Name)
	}
	for _, f := range m.Functions {
		names = append(names, "function "+f.DeployedName)
	}
	names = append(names, "scheduler job "+m.FullSync.Job, "scheduler job "+m.LineSweep.Job)
	slices.Sort(names)
	return names
}

// rootNameAttr is a resource's name attribute in the root module (two
// spaces in: the resource's own, not a nested block's).
var rootNameAttr = regexp.MustCompile(`(?m)^resource "([a-z0-9_]+)" "([a-z0-9_]+)" \{\n((?:  .*\n|\n)*?)\}`)

// TestPlanEnvironmentsDisjoint evaluates the Terraform side (the
// provider-free module, as the drift test does) for staging and production
// in one project: no name is shared, every name is eh-<env>-..., and every
// name a root resource sets derives from the environment's.
func TestPlanEnvironmentsDisjoint(t *testing.T) {
	in := loadDeployInputs(t)
	root := in.rootTerraform()
	// Text check, also without terraform: a literal or var-only name
	// would be the same in both environments.
	// module.deployment.promotion.bucket is made of the environment's name
	// in the module (TestPromotionMarkUnforgeable evaluates it).
	derived := regexp.MustCompile(`local\.name\b|each\.value|local\.full_sync\.job|local\.line_sweep\.job|google_[a-z0-9_]+\.|module\.deployment\.promotion\.bucket\b`)
	// A local defined from local.name (e.g. a monitoring prefix) counts too.
	derivedLocals := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  ([a-z_]+)\s*=\s*(.+)$`).FindAllStringSubmatch(root, -1) {
		if derived.MatchString(m[2]) {
			derivedLocals[m[1]] = true
		}
	}
	fromEnvironment := func(value string) bool {
		if derived.MatchString(value) {
			return true
		}
		for _, l := range regexp.MustCompile(`local\.([a-z_]+)`).FindAllStringSubmatch(value, -1) {
			if derivedLocals[l[1]] {
				return true
			}
		}
		return false
	}
	for _, m := range rootNameAttr.FindAllStringSubmatch(root, -1) {
		for _, attr := range regexp.MustCompile(`(?m)^  (name|account_id|secret_id|display_name)\s*=\s*(.+)$`).FindAllStringSubmatch(m[3], -1) {
			value := attr[2]
			switch {
			case attr[1] == "display_name" && m[1] == "google_service_account":
				// Not unique; made of the description's with the environment.
			case fromEnvironment(value):
			case m[1] == "google_firestore_database" && value == "var.firestore_database":
				// One setting per environment: (default) in a project of
				// its own, eh-<env> in a shared one (the tfvars examples).
			default:
				t.Errorf("%s.%s: %s = %s is not derived from the environment (local.name)", m[1], m[2], attr[1], value)
			}
		}
	}

	tf, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("terraform not installed: the module is not evaluated")
	}
	settings := gcloudSettings(in.steps)
	d, err := deployment.ParseDescription([]byte(in.files[deployment.DescriptionFile]))
	if err != nil {
		t.Fatal(err)
	}
	for name := range d.Env {
		delete(settings, name)
	}
	byEnv := map[string][]string{}
	for _, env := range environments {
		m, err := evaluateModule(t, tf, in.files, planSettings.Project, planSettings.Region, env, settings)
		if err != nil {
			t.Fatal(err)
		}
		names := terraformNames(m)
		for _, n := range names {
			if !strings.Contains(n, " eh-"+env+"-") {
				t.Errorf("%s: %s is not eh-%s-...", env, n, env)
			}
		}
		if m.Name != "eh-"+env || m.Labels["environment"] != env || m.Labels["app"] != "expert-hub" {
			t.Errorf("%s: name %q, labels %v", env, m.Name, m.Labels)
		}
		byEnv[env] = names
	}
	if len(byEnv["staging"]) < 15 {
		t.Errorf("only %d names: %v", len(byEnv["staging"]), byEnv["staging"])
	}
	if shared := disjoint(byEnv["staging"], byEnv["production"]); len(shared) > 0 {
		t.Errorf("staging and production in one project collide on %v", shared)
	}
	// The module refuses an environment the naming does not allow.
	if _, err := evaluateModule(t, tf, in.files, planSettings.Project, planSettings.Region, "Production", settings); err == nil ||
		!strings.Contains(err.Error(), "environment must match") {
		t.Errorf("environment Production evaluated: %v", err)
	}
}

// gcloudNames are the unique names the gcloud plan creates.
func gcloudNames(steps []gcloudplan.Step) []string {
	var names []string
	for _, st := range steps {
		a := st.Args
		switch {
		case hasPrefix(a, "iam", "service-accounts", "create"):
			names = append(names, "service account "+a[3])
		case hasPrefix(a, "secrets", "create"):
			names = append(names, "secret "+a[2])
		case hasPrefix(a, "tasks", "queues", "create"):
			names = append(names, "queue "+a[3])
		case hasPrefix(a, "functions", "deploy"):
			names = append(names, "function "+a[2])
		case hasPrefix(a, "scheduler", "jobs", "create", "http"):
			names = append(names, "scheduler job "+a[4])
		}
	}
	slices.Sort(names)
	return names
}

// TestDeployEnvironmentsDisjoint plans the gcloud path for staging and
// production in one project: disjoint names, the description's names for
// each, the same names as the Terraform module, and no step of one
// touching a resource of the other.
func TestDeployEnvironmentsDisjoint(t *testing.T) {
	d, err := deployment.Load()
	if err != nil {
		t.Fatal(err)
	}
	tf, _ := exec.LookPath("terraform")
	var in deployInputs
	if tf != "" {
		in = loadDeployInputs(t)
	}
	byEnv := map[string][]string{}
	for _, env := range environments {
		s := planSettings
		s.Environment = env
		steps, err := gcloudplan.Plan(d, s)
		if err != nil {
			t.Fatal(err)
		}
		names := gcloudNames(steps)
		named, err := d.ForEnvironment(env)
		if err != nil {
			t.Fatal(err)
		}
		if want := named.UniqueNames(); !slices.Equal(names, want) {
			t.Errorf("%s: gcloud creates %v, the description names %v", env, names, want)
		}
		other := "eh-staging"
		if env == "staging" {
			other = "eh-production"
		}
		for _, st := range steps {
			if joined := strings.Join(st.Args, " "); strings.Contains(joined, other) {
				t.Errorf("%s step touches %s: %s", env, other, joined)
			}
		}
		if tf != "" {
			m, err := evaluateModule(t, tf, in.files, s.Project, s.Region, env, map[string]string{})
			if err != nil {
				t.Fatal(err)
			}
			if tfNames := terraformNames(m); !slices.Equal(names, tfNames) {
				t.Errorf("%s: gcloud creates %v, Terraform %v", env, names, tfNames)
			}
		}
		byEnv[env] = names
	}
	if shared := disjoint(byEnv["staging"], byEnv["production"]); len(shared) > 0 {
		t.Errorf("staging and production in one project collide on %v", shared)
	}
}

// tfvarsString is `name = "value"` in a tfvars file (comments after it
// allowed).
var tfvarsString = regexp.MustCompile(`(?m)^([a-z_]+)\s*=\s*("(?:[^"\\]|\\.)*")`)

// simpleValidation is a variable validation of the form
// can(regex("RE", var.NAME)), optionally allowing "".
var simpleValidation = regexp.MustCompile(`condition\s*=\s*(?:var\.([a-z_]+) == "" \|\| )?can\(regex\(("(?:[^"\\]|\\.)*"), var\.([a-z_]+)\)\)`)

// TestEnvironmentExamplesValidate checks each terraform/environments example:
// it sets every variable without a default, only declared ones, its own
// environment (the file's name), and values the variables' regex
// validations accept. (terraform validate needs the providers.)
func TestEnvironmentExamplesValidate(t *testing.T) {
	in := deployInputs{files: map[string]string{}}
	paths, _ := filepath.Glob("terraform/*.tf")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		in.files[filepath.ToSlash(p)] = string(b)
	}
	root := in.rootTerraform()
	var required []string
	declared := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^variable "([^"]+)"`).FindAllStringSubmatch(root, -1) {
		declared[m[1]] = true
		if _, ok := hclAttrs(hclVariable(root, m[1]))["default"]; !ok {
			required = append(required, m[1])
		}
	}
	if !slices.Contains(required, "environment") {
		t.Errorf("variable environment has a default, or none is declared: required %v", required)
	}
	patterns := map[string]*regexp.Regexp{}
	for _, m := range simpleValidation.FindAllStringSubmatch(root, -1) {
		re, err := strconv.Unquote(m[2])
		if err != nil {
			t.Fatalf("validation of %s: %v", m[3], err)
		}
		patterns[m[3]] = regexp.MustCompile(re)
	}
	if len(patterns) < 8 {
		t.Fatalf("found %d regex validations in terraform/variables.tf, want the SIDs, numbers, region, project, environment", len(patterns))
	}
	d, err := deployment.Load()
	if err != nil {
		t.Fatal(err)
	}

	found, _ := filepath.Glob("terraform/environments/*.tfvars.example")
	if !slices.Equal(found, exampleFiles) && !slices.Equal(sorted(found), sorted(exampleFiles)) {
		t.Errorf("examples %v, want %v", found, exampleFiles)
	}
	projects := map[string]string{}
	for _, path := range exampleFiles {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		values := map[string]string{}
		for _, m := range tfvarsString.FindAllStringSubmatch(string(b), -1) {
			v, err := strconv.Unquote(m[2])
			if err != nil {
				t.Fatalf("%s: %s: %v", path, m[1], err)
			}
			values[m[1]] = v
		}
		for _, m := range regexp.MustCompile(`(?m)^([a-z_]+)\s*=`).FindAllStringSubmatch(string(b), -1) {
			if !declared[m[1]] {
				t.Errorf("%s sets undeclared variable %s", path, m[1])
			}
			if _, ok := values[m[1]]; !ok {
				values[m[1]] = "(not a string)"
			}
		}
		for _, name := range required {
			if _, ok := values[name]; !ok {
				t.Errorf("%s does not set %s, which has no default", path, name)
			}
		}
		for _, name := range sorted(slices.Collect(maps.Keys(patterns))) {
			if v, ok := values[name]; ok && !patterns[name].MatchString(v) {
				t.Errorf("%s: %s = %q fails the variable's validation %s", path, name, v, patterns[name])
			}
		}
		env := strings.TrimSuffix(filepath.Base(path), ".tfvars.example")
		if values["environment"] != env {
			t.Errorf("%s sets environment %q, want %q (the file's name)", path, values["environment"], env)
		}
		if err := d.ValidEnvironment(values["environment"]); err != nil {
			t.Errorf("%s: %v", path, err)
		}
		if _, ok := values["firestore_database"]; !ok {
			t.Errorf("%s does not say which Firestore database the environment uses", path)
		}
		if other, dup := projects[values["project"]]; dup {
			t.Errorf("%s and %s share project %s: the examples show the recommended layout, a project each", other, path, values["project"])
		}
		projects[values["project"]] = path
		// The backend prefix of the walkthrough is the environment's.
		if want := fmt.Sprintf("-backend-config=prefix=expert-hub/%s", env); !strings.Contains(string(b), want) {
			t.Errorf("%s does not show %s", path, want)
		}
	}
}
