package experthub

// Least privilege and a first apply that works (docs/deploy.md, "Grants"):
// the scope of every grant the deployment makes, on the gcloud plan and on
// the evaluated Terraform module (deploy_test.go shows both are the same
// deployment), and every API and deployer role the Terraform's resource
// types need.

import (
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/experthub/experthub/internal/deployment"
	"github.com/experthub/experthub/internal/gcloudplan"
)

// resourceTypes is what each resource type of terraform/ needs: the APIs
// enabled in the project (the description's apis) and the role the
// deploying account (Cloud Build's) needs to manage it, from Google's role
// references (https://cloud.google.com/iam/docs/roles-permissions). A type
// missing here fails TestResourceTypesCovered.
var resourceTypes = map[string]struct {
	apis []string
	role string
}{
	// The Service Usage API itself is on in every project: it enables the others.
	"google_project_service":            {nil, "roles/serviceusage.serviceUsageAdmin"},
	"google_service_account":            {[]string{"iam.googleapis.com"}, "roles/iam.serviceAccountAdmin"},
	"google_service_account_iam_member": {[]string{"iam.googleapis.com"}, "roles/iam.serviceAccountAdmin"},
	"google_project_iam_member":         {[]string{"cloudresourcemanager.googleapis.com"}, "roles/resourcemanager.projectIamAdmin"},
	// A 2nd-gen function is built by Cloud Build into Artifact Registry
	// and runs on Cloud Run (https://cloud.google.com/functions/docs/building).
	"google_cloudfunctions2_function": {[]string{"cloudfunctions.googleapis.com", "cloudbuild.googleapis.com",
		"artifactregistry.googleapis.com", "run.googleapis.com"}, "roles/cloudfunctions.admin"},
	"google_cloud_run_service_iam_member":     {[]string{"run.googleapis.com"}, "roles/run.admin"},
	"google_firestore_database":               {[]string{"firestore.googleapis.com"}, "roles/datastore.owner"},
	"google_firestore_index":                  {[]string{"firestore.googleapis.com"}, "roles/datastore.owner"},
	"google_firestore_field":                  {[]string{"firestore.googleapis.com"}, "roles/datastore.owner"},
	"google_secret_manager_secret":            {[]string{"secretmanager.googleapis.com"}, "roles/secretmanager.admin"},
	"google_secret_manager_secret_iam_member": {[]string{"secretmanager.googleapis.com"}, "roles/secretmanager.admin"},
	"google_cloud_tasks_queue":                {[]string{"cloudtasks.googleapis.com"}, "roles/cloudtasks.admin"},
	"google_cloud_tasks_queue_iam_member":     {[]string{"cloudtasks.googleapis.com"}, "roles/cloudtasks.admin"},
	"google_cloud_scheduler_job":              {[]string{"cloudscheduler.googleapis.com"}, "roles/cloudscheduler.admin"},
	"google_storage_bucket":                   {[]string{"storage.googleapis.com"}, "roles/storage.admin"},
	"google_storage_bucket_object":            {[]string{"storage.googleapis.com"}, "roles/storage.admin"},
	"google_storage_bucket_iam_member":        {[]string{"storage.googleapis.com"}, "roles/storage.admin"},
	// https://cloud.google.com/iam/docs/roles-permissions/logging and /monitoring
	"google_logging_metric":          {[]string{"logging.googleapis.com"}, "roles/logging.configWriter"},
	"google_monitoring_alert_policy": {[]string{"monitoring.googleapis.com"}, "roles/monitoring.alertPolicyEditor"},
	"google_monitoring_dashboard":    {[]string{"monitoring.googleapis.com"}, "roles/monitoring.dashboardEditor"},
}

// terraformResourceTypes returns the resource types terraform/*.tf declares.
func terraformResourceTypes(files map[string]string) []string {
	seen := map[string]bool{}
	for p, src := range files {
		if !strings.HasPrefix(p, "terraform/") || strings.Count(p, "/") != 1 || !strings.HasSuffix(p, ".tf") {
			continue
		}
		for _, m := range regexp.MustCompile(`(?m)^resource "([a-z0-9_]+)"`).FindAllStringSubmatch(src, -1) {
			seen[m[1]] = true
		}
	}
	return sorted(slices.Collect(maps.Keys(seen)))
}

// deployerRoles returns the roles docs/deploy.md lists for Cloud Build's
// account: the bullets after "or at least these roles".
func deployerRoles(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	_, list, ok := strings.Cut(string(b), "or at least these roles, on the project:\n\n")
	if !ok {
		t.Fatal(`docs/deploy.md has no "or at least these roles, on the project:" list`)
	}
	var roles []string
	for _, line := range strings.Split(list, "\n") {
		if !strings.HasPrefix(line, "- ") {
			break
		}
		roles = append(roles, regexp.MustCompile("`(roles/[A-Za-z.]+)`").FindAllString(line, -1)...)
	}
	for i, r := range roles {
		roles[i] = strings.Trim(r, "`")
	}
	return roles
}

func TestResourceTypesCovered(t *testing.T) {
	in := loadDeployInputs(t)
	d, err := deployment.ParseDescription([]byte(in.files[deployment.DescriptionFile]))
	if err != nil {
		t.Fatal(err)
	}
	types := terraformResourceTypes(in.files)
	if len(types) < 10 {
		t.Fatalf("found only resource types %v", types)
	}
	needed := map[string]bool{}
	documented := deployerRoles(t)
	for _, typ := range types {
		need, ok := resourceTypes[typ]
		if !ok {
			t.Errorf("terraform creates %s: add its APIs and the deployer's role to resourceTypes", typ)
			continue
		}
		for _, api := range need.apis {
			needed[api] = true
			if !slices.Contains(d.APIs, api) {
				t.Errorf("terraform creates %s, which needs %s: add it to %s apis", typ, api, deployment.DescriptionFile)
			}
		}
		if !slices.Contains(documented, need.role) {
			t.Errorf("terraform creates %s, which needs %s: docs/deploy.md's Cloud Build roles %v lack it", typ, need.role, documented)
		}
	}
	for _, api := range d.APIs {
		if !needed[api] {
			t.Errorf("%s enables %s, which no resource type needs", deployment.DescriptionFile, api)
		}
	}
	// Acting as an account is granted per account (terraform/iam.tf,
	// deployer_service_account), never project-wide: project-wide it
	// covers the default compute account and every other workload's.
	if slices.Contains(documented, "roles/iam.serviceAccountUser") {
		t.Error("docs/deploy.md lists roles/iam.serviceAccountUser among the project-wide roles")
	}
}

// conditionHolds evaluates the IAM conditions the description uses
// (resource.name.startsWith("…"), joined by ||) for resource name; any
// other expression fails the test, so that a new shape is checked here too.
func conditionHolds(t *testing.T, expr, name string) bool {
	t.Helper()
	one := regexp.MustCompile(`^resource\.name\.startsWith\("([^"]+)"\)$`)
	for _, term := range strings.Split(expr, "||") {
		m := one.FindStringSubmatch(strings.TrimSpace(term))
		if m == nil {
			t.Fatalf("condition %q: only resource.name.startsWith(...) terms are understood here", expr)
		}
		if strings.HasPrefix(name, m[1]) {
			return true
		}
	}
	return false
}

// grantPlans are settings whose plans TestGrantScopes checks: a minimal
// deployment, and one with every optional secret wired.
func grantPlans(t *testing.T) map[string]gcloudplan.Settings {
	t.Helper()
	minimal := planSettings
	minimal.Env = map[string]string{
		"TWILIO_ACCOUNT_SID":        "AC0123456789abcdef0123456789abcdef",
		"FRONTLINE_WORKSPACE":       "WS0123456789abcdef0123456789abcdef",
		"FRONTLINE_PROXY_NUMBER_FR": "+33757500000",
	}
	full := planSettings
	full.Env = maps.Clone(planSettings.Env)
	delete(full.Env, "STRAPI_IDENTIFIER") // the API token, not the password
	maps.Copy(full.Env, map[string]string{
		"FLEX_ACCOUNT_SID": "AC1123456789abcdef0123456789abcdef",
		"FLEX_API_KEY":     "SK1123456789abcdef0123456789abcdef",
		"FLEX_WORKSPACE":   "WS1123456789abcdef0123456789abcdef",
		"FLEX_WORKFLOW":    "WW1123456789abcdef0123456789abcdef",
	})
	return map[string]gcloudplan.Settings{"minimal": minimal, "flex": full, "test plan": planSettings}
}

// TestGrantScopes asserts each grant's scope (issue 22): no project-wide
// act-as, no unconditioned project-wide storage role, secrets readable
// exactly when wired, each by the accounts of the functions given it only
// (on the gcloud plans and the evaluated Terraform module).
func TestGrantScopes(t *testing.T) {
	d, err := deployment.Load()
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range grantPlans(t) {
		t.Run(name, func(t *testing.T) {
			steps, err := gcloudplan.Plan(d, s)
			if err != nil {
				t.Fatal(err)
			}
			checkGrantScopes(t, d, s, steps)
			checkSecretAccess(t, d, s, gcloudFacts(steps))
		})
	}
	// The Terraform side: the evaluated module makes the same grants as
	// this plan (TestDeployConsistency), and the root module makes its
	// grants from the module's outputs only.
	in := loadDeployInputs(t)
	if in.terraform != nil {
		t.Run("terraform", func(t *testing.T) { checkSecretAccess(t, d, planSettings, in.terraform) })
	} else {
		t.Log("terraform not installed: its secret grants are checked as text only")
	}
	root := in.rootTerraform()
	if n := strings.Count(root, `resource "google_project_iam_member"`); n != 1 ||
		!strings.Contains(root, "for_each = module.deployment.project_roles\n") {
		t.Errorf("terraform/ makes %d google_project_iam_member resources; want one, for_each = module.deployment.project_roles", n)
	}
	secrets, _ := hclResource(root, "google_secret_manager_secret_iam_member", "runtime")
	if !strings.Contains(secrets, "for_each  = module.deployment.secret_grants\n") ||
		!strings.Contains(secrets, "member    = google_service_account.account[each.value.account].member") {
		t.Errorf("terraform/secrets.tf does not make the module's secret_grants:\n%s", secrets)
	}
	// The module's outputs are what the functions get only if the root
	// module deploys each function as and with them.
	fn, _ := hclResource(root, "google_cloudfunctions2_function", "fn")
	for _, want := range []string{"service_account_email          = google_service_account.account[each.value.account].email",
		"for_each = module.deployment.function_secrets[each.key]"} {
		if !strings.Contains(fn, want) {
			t.Errorf("terraform/main.tf's functions lack %q", want)
		}
	}
	deployer, _ := hclResource(root, "google_service_account_iam_member", "deployer")
	if !strings.Contains(deployer, "toset(module.deployment.deployer_acts_as)") || !strings.Contains(deployer, "service_account_id = google_service_account.account[each.value].name") {
		t.Errorf("terraform/iam.tf does not grant the deployer act-as on the deployment's accounts only:\n%s", deployer)
	}
	// The deployer acts as exactly the accounts what it creates runs as:
	// the functions, their builds (build), the scheduler jobs' tokens.
	want := []string{deployment.BuildAccount, d.FullSync.Account, d.LineSweep.Account}
	for _, f := range d.Functions {
		want = append(want, f.Account)
	}
	if got := slices.Compact(sorted(d.DeployerActsAs)); !slices.Equal(got, slices.Compact(sorted(want))) {
		t.Errorf("deployer_acts_as %v; the deployment creates what runs as %v", d.DeployerActsAs, slices.Compact(sorted(want)))
	}
}

func checkGrantScopes(t *testing.T, d *deployment.Description, s gcloudplan.Settings, steps []gcloudplan.Step) {
	t.Helper()
	named, err := d.ForEnvironment(s.Environment)
	if err != nil {
		t.Fatal(err)
	}
	run := "serviceAccount:" + named.AccountEmail(deployment.RunAccount, s.Project)
	// Buckets no deployment account may write: the Terraform state (the
	// operator's, docs/deploy.md), the promotion marks, and the functions'
	// source.
	protected := []string{s.Project + "-tfstate", s.Project + "-" + named.Prefix(s.Environment) + "-" + d.Promotion.Bucket,
		s.Project + "-" + named.Prefix(s.Environment) + "-source"}
	var readable []string
	for _, st := range steps {
		a := st.Args
		member, _ := flag(a, "member")
		role, _ := flag(a, "role")
		switch {
		case hasPrefix(a, "projects", "add-iam-policy-binding"):
			condition, _ := flag(a, "condition")
			if role == "roles/iam.serviceAccountUser" || role == "roles/iam.serviceAccountTokenCreator" {
				t.Errorf("project-wide %s for %s: grant it on the account", role, member)
			}
			if !strings.HasPrefix(role, "roles/storage.") {
				continue
			}
			expr, ok := strings.CutPrefix(condition, "expression=")
			if !ok {
				t.Errorf("project-wide %s for %s without a condition (%s)", role, member, condition)
				continue
			}
			expr, _, _ = strings.Cut(expr, ",title=")
			for _, bucket := range protected {
				if conditionHolds(t, expr, "projects/_/buckets/"+bucket+"/objects/x") {
					t.Errorf("%s for %s covers bucket %s", role, member, bucket)
				}
			}
			if !conditionHolds(t, expr, "projects/_/buckets/gcf-v2-sources-123456789-"+s.Region+"/objects/f/function-source.zip") {
				t.Errorf("%s for %s does not cover the build's source in gcf-v2-sources", role, member)
			}
		case hasPrefix(a, "secrets", "add-iam-policy-binding"):
			// Who reads it: checkSecretAccess.
			if role != "roles/secretmanager.secretAccessor" {
				t.Errorf("secret %s: %s for %s; the functions' identities only read secrets", a[2], role, member)
			}
			if !slices.Contains(readable, a[2]) {
				readable = append(readable, a[2])
			}
		case hasPrefix(a, "iam", "service-accounts", "add-iam-policy-binding"):
			// Only the queue's enqueuers sign as its OIDC account.
			if role != "roles/iam.serviceAccountUser" || member != run || a[3] != named.AccountEmail(named.Queues["work"].OIDCAccount, s.Project) {
				t.Errorf("unexpected act-as grant %v", a)
			}
		}
	}
	var wired []string
	for _, name := range d.WiredSecrets(s.Env) {
		wired = append(wired, named.SecretID(name))
	}
	if !slices.Equal(sorted(readable), sorted(wired)) {
		t.Errorf("the functions may read %v; want the wired secrets %v", readable, wired)
	}
}

// checkSecretAccess asserts on a deployment's facts (gcloudFacts, or
// tfModule.facts) that each account may read exactly the secrets given to
// the functions that run as it, and that eh-<env>-run, which runs every
// Twilio-facing function, cannot read STRAPI_WEBHOOK_SECRET (only sync
// checks it).
func checkSecretAccess(t *testing.T, d *deployment.Description, s gcloudplan.Settings, facts map[string]string) {
	t.Helper()
	named, err := d.ForEnvironment(s.Environment)
	if err != nil {
		t.Fatal(err)
	}
	given := map[string][]string{}    // account e-mail → secrets its functions get
	readable := map[string][]string{} // account e-mail → secrets it may read
	accounts := map[string]bool{}
	for _, f := range named.Functions {
		account := facts["function runs as "+f.Deployed]
		if account == "" {
			t.Errorf("%s runs as no account", f.Deployed)
		}
		accounts[account] = true
	}
	for k, id := range facts {
		if rest, ok := strings.CutPrefix(k, "secret env "); ok {
			fn, _, _ := strings.Cut(rest, " ")
			account := facts["function runs as "+fn]
			if !slices.Contains(given[account], id) {
				given[account] = append(given[account], id)
			}
		}
		if rest, ok := strings.CutPrefix(k, "secret role "); ok {
			id, member, _ := strings.Cut(rest, " roles/secretmanager.secretAccessor serviceAccount:")
			readable[member] = append(readable[member], id)
			accounts[member] = true
		}
	}
	for _, account := range sorted(slices.Collect(maps.Keys(accounts))) {
		if got, want := sorted(readable[account]), sorted(given[account]); !slices.Equal(got, want) {
			t.Errorf("%s may read %v; its functions are given %v", account, got, want)
		}
	}
	run := named.AccountEmail(deployment.RunAccount, s.Project)
	if webhook := named.SecretID("STRAPI_WEBHOOK_SECRET"); slices.Contains(readable[run], webhook) {
		t.Errorf("%s may read %s, which only sync checks", run, webhook)
	}
	if len(given[run]) == 0 {
		t.Errorf("no function runs as %s", run)
	}
}

// hclResource returns the body of resource "typ" "name" in src.
func hclResource(src, typ, name string) (string, bool) {
	head := fmt.Sprintf("resource %q %q ", typ, name)
	i := strings.Index(src, head)
	if i < 0 {
		return "", false
	}
	return braced(src[i+len(head):])
}
