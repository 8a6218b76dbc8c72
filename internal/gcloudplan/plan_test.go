package gcloudplan

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/experthub/experthub/internal/deployment"
	"github.com/experthub/experthub/internal/function"
)

const (
	sid = "0123456789abcdef0123456789abcdef"
	// indexesJSON is a small indexes file in the firestore.indexes.json
	// format, with an array field to cover that branch.
	indexesJSON = `{"indexes": [
  {"collectionGroup": "customers", "queryScope": "COLLECTION", "fields": [
    {"fieldPath": "worker_key", "order": "ASCENDING"},
    {"fieldPath": "name_key", "order": "DESCENDING"},
    {"fieldPath": "__name__", "order": "DESCENDING"}]},
  {"collectionGroup": "customers", "queryScope": "COLLECTION_GROUP", "fields": [
    {"fieldPath": "addresses", "arrayConfig": "CONTAINS"},
    {"fieldPath": "synced_at", "order": "ASCENDING"}]}
], "fieldOverrides": []}`
)

// sourceDir returns a module root holding only the indexes file.
func sourceDir(t *testing.T, indexes string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, deployment.IndexesFile)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(indexes), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func baseEnv() map[string]string {
	return map[string]string{
		"TWILIO_ACCOUNT_SID":           "AC" + sid,
		"FRONTLINE_WORKSPACE":          "WS" + sid,
		"FRONTLINE_DEFAULT_POOL_QUEUE": "WQ" + sid,
		"FRONTLINE_PROXY_NUMBER_FR":    "+33757500000",
		"DB_URL":                       "https://cms.example.com", // alias of STRAPI_URL
		"WELCOME_MESSAGE":              "Hello, I'm the bot",
	}
}

// description returns the embedded description.
func description(t *testing.T) *deployment.Description {
	t.Helper()
	d, err := deployment.Load()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// plan is Plan of the embedded description.
func plan(t *testing.T, s Settings) ([]Step, error) {
	return Plan(description(t), s)
}

func testSettings(t *testing.T) Settings {
	return Settings{Project: "expert-test", Region: "europe-west1", Environment: "prod", Source: sourceDir(t, indexesJSON), Env: baseEnv()}
}

// parseDict reverses dictFlag, including gcloud's ^DELIM^ syntax.
func parseDict(t *testing.T, value string) map[string]string {
	t.Helper()
	delim := ","
	if strings.HasPrefix(value, "^") {
		end := strings.Index(value[1:], "^")
		if end < 0 {
			t.Fatalf("unterminated delimiter in %q", value)
		}
		delim, value = value[1:end+1], value[end+2:]
	}
	m := map[string]string{}
	for _, item := range strings.Split(value, delim) {
		k, v, ok := strings.Cut(item, "=")
		if !ok {
			t.Fatalf("item %q of %q has no =", item, value)
		}
		m[k] = v
	}
	return m
}

// flagValue returns the value of --name=... in args.
func flagValue(args []string, name string) (string, bool) {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

func stepsWith(steps []Step, prefix ...string) []Step {
	var out []Step
	for _, st := range steps {
		if len(st.Args) >= len(prefix) && slices.Equal(st.Args[:len(prefix)], prefix) {
			out = append(out, st)
		}
	}
	return out
}

func TestPlanDeploysEveryFunction(t *testing.T) {
	steps, err := plan(t, testSettings(t))
	if err != nil {
		t.Fatal(err)
	}
	d := description(t)
	deploys := stepsWith(steps, "functions", "deploy")
	if len(deploys) != len(d.Functions) {
		t.Fatalf("%d deploy steps, want one per function (%d)", len(deploys), len(d.Functions))
	}
	for i, f := range d.Functions {
		args := deploys[i].Args
		if want := "eh-prod-" + string(f.Name); args[2] != want {
			t.Errorf("deploy step %d deploys %q, want %q", i, args[2], want)
		}
		want := map[string]string{
			"entry-point":           string(f.Name),
			"runtime":               d.Runtime,
			"region":                "europe-west1",
			"project":               "expert-test",
			"service-account":       "eh-prod-" + f.Account + "@expert-test.iam.gserviceaccount.com",
			"build-service-account": "projects/expert-test/serviceAccounts/eh-prod-build@expert-test.iam.gserviceaccount.com",
			"memory":                f.Memory,
			"cpu":                   f.CPU,
			"timeout":               strconv.Itoa(f.TimeoutSeconds) + "s",
			"min-instances":         strconv.Itoa(f.MinInstances),
			"max-instances":         strconv.Itoa(f.MaxInstances),
			"concurrency":           strconv.Itoa(f.Concurrency),
		}
		for name, v := range want {
			if got, _ := flagValue(args, name); got != v {
				t.Errorf("%s: --%s=%q, want %q", f.Name, name, got, v)
			}
		}
		auth := "--no-allow-unauthenticated"
		if f.Public {
			auth = "--allow-unauthenticated"
		}
		for _, flag := range []string{"--gen2", "--trigger-http", auth, "--quiet"} {
			if !slices.Contains(args, flag) {
				t.Errorf("%s: no %s", f.Name, flag)
			}
		}
	}
}

func TestPlanEnvironment(t *testing.T) {
	steps, err := plan(t, testSettings(t))
	if err != nil {
		t.Fatal(err)
	}
	args := stepsWith(steps, "functions", "deploy")[0].Args
	raw, _ := flagValue(args, "set-env-vars")
	env := parseDict(t, raw)
	want := map[string]string{
		"TWILIO_ACCOUNT_SID":             "AC" + sid,
		"STRAPI_URL":                     "https://cms.example.com",
		"WELCOME_MESSAGE":                "Hello, I'm the bot",
		"FRONTLINE_PROXY_NUMBER_FR":      "+33757500000",
		"GOOGLE_CLOUD_PROJECT":           "expert-test",
		"PUBLIC_BASE_URL":                "https://europe-west1-expert-test.cloudfunctions.net",
		"SYNC_OIDC_AUDIENCE":             "https://europe-west1-expert-test.cloudfunctions.net/eh-prod-sync",
		"PUBLIC_URL_PRE_EVENT":           "https://europe-west1-expert-test.cloudfunctions.net/eh-prod-pre-event",
		"PUBLIC_URL_WORK":                "https://europe-west1-expert-test.cloudfunctions.net/eh-prod-work",
		"SYNC_SCHEDULER_SERVICE_ACCOUNT": "eh-prod-scheduler@expert-test.iam.gserviceaccount.com",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("env %s = %q, want %q", k, env[k], v)
		}
	}
	if _, ok := env["DB_URL"]; ok {
		t.Error("alias DB_URL deployed as such, want STRAPI_URL")
	}
	for k := range env {
		if v, ok := description(t).Lookup(k); !ok || v.Secret {
			t.Errorf("env %s: unknown or secret", k)
		}
	}

	raw, _ = flagValue(args, "set-secrets")
	secrets := parseDict(t, raw)
	// crm: the webhook secret is sync's only.
	wantSecrets := map[string]string{
		"TWILIO_AUTH_TOKEN": "eh-prod-twilio-auth-token:latest",
		"STRAPI_API_TOKEN":  "eh-prod-strapi-api-token:latest",
	}
	if !mapsEqual(secrets, wantSecrets) {
		t.Errorf("secrets = %v, want %v", secrets, wantSecrets)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestPlanPublicURLOverride(t *testing.T) {
	s := testSettings(t)
	s.Env["PUBLIC_BASE_URL"] = "https://hooks.example.com"
	s.Env["PUBLIC_URL_SYNC"] = "https://sync.example.com/in"
	steps, err := plan(t, s)
	if err != nil {
		t.Fatal(err)
	}
	job := stepsWith(steps, "scheduler", "jobs", "create", "http")
	if len(job) != 2 {
		t.Fatalf("%d scheduler steps, want 2 (full sync, line sweep)", len(job))
	}
	sweep := job[1]
	if got, _ := flagValue(sweep.Args, "oidc-token-audience"); got != "https://hooks.example.com/eh-prod-taskrouter-events" {
		t.Errorf("sweep audience = %q, want the taskrouter-events URL", got)
	}
	if got, _ := flagValue(sweep.Args, "schedule"); got != "* * * * *" {
		t.Errorf("sweep schedule = %q, want every minute", got)
	}
	// The job calls the function itself, with the audience sync expects.
	if got, _ := flagValue(job[0].Args, "uri"); got != "https://europe-west1-expert-test.cloudfunctions.net/eh-prod-sync" {
		t.Errorf("uri = %q", got)
	}
	if got, _ := flagValue(job[0].Args, "oidc-token-audience"); got != "https://sync.example.com/in" {
		t.Errorf("audience = %q, want PUBLIC_URL_SYNC", got)
	}
	if !slices.Equal(job[0].Update[4:], job[0].Args[4:]) {
		t.Errorf("update flags %q differ from create flags %q", job[0].Update[4:], job[0].Args[4:])
	}
	if !strings.Contains(steps[len(steps)-1].Comment, "Strapi > Settings > Webhooks: URL https://sync.example.com/in") {
		t.Errorf("closing notes miss the sync URL:\n%s", steps[len(steps)-1].Comment)
	}
}

func TestPlanSecrets(t *testing.T) {
	s := testSettings(t)
	s.Env["TWILIO_API_KEY"] = "SK" + sid
	s.Env["STRAPI_IDENTIFIER"] = "frontline_app"
	steps, err := plan(t, s)
	if err != nil {
		t.Fatal(err)
	}
	var created, readable, syncReadable, checked []string
	for _, st := range steps {
		switch {
		case slices.Equal(st.Args[:min(2, len(st.Args))], []string{"secrets", "create"}):
			created = append(created, st.Args[2])
		case len(st.Args) > 2 && st.Args[1] == "add-iam-policy-binding" && st.Args[0] == "secrets":
			if slices.Contains(st.Args, "--role=roles/secretmanager.secretAccessor") &&
				slices.Contains(st.Args, "--member=serviceAccount:eh-prod-run@expert-test.iam.gserviceaccount.com") {
				readable = append(readable, st.Args[2])
			}
			if slices.Contains(st.Args, "--role=roles/secretmanager.secretAccessor") &&
				slices.Contains(st.Args, "--member=serviceAccount:eh-prod-sync@expert-test.iam.gserviceaccount.com") {
				syncReadable = append(syncReadable, st.Args[2])
			}
		case st.Expect != "":
			checked = append(checked, st.Args[3])
		}
	}
	all := []string{"eh-prod-twilio-auth-token", "eh-prod-twilio-api-secret", "eh-prod-strapi-api-token", "eh-prod-strapi-password", "eh-prod-strapi-webhook-secret",
		"eh-prod-flex-auth-token", "eh-prod-flex-api-secret", "eh-prod-handoff-secret"}
	if !slices.Equal(created, all) {
		t.Errorf("created %v; want every secret: %v", created, all)
	}
	// Password login and an API key: the token is not wired, nor are the
	// Flex secrets (no contact center), and the functions may read only
	// what they are given: sync's webhook secret only sync's account.
	wired := []string{"eh-prod-twilio-auth-token", "eh-prod-twilio-api-secret", "eh-prod-strapi-password", "eh-prod-strapi-webhook-secret"}
	if !slices.Equal(syncReadable, wired) {
		t.Errorf("sync may read %v; want the wired secrets only: %v", syncReadable, wired)
	}
	if want := wired[:3]; !slices.Equal(readable, want) {
		t.Errorf("run may read %v; want %v", readable, want)
	}
	if !slices.Equal(checked, wired) {
		t.Errorf("version checks for %v, want %v", checked, wired)
	}
	for _, st := range steps {
		if strings.Contains(strings.Join(st.Args, " "), "versions add") {
			t.Errorf("a step adds a secret value: %q", st.Args)
		}
	}
}

func TestPlanIndexes(t *testing.T) {
	s := testSettings(t)
	s.Env["FIRESTORE_COLLECTION"] = "clients"
	steps, err := plan(t, s)
	if err != nil {
		t.Fatal(err)
	}
	got := stepsWith(steps, "firestore", "indexes", "composite", "create")
	want := [][]string{
		{"firestore", "indexes", "composite", "create", "--database=(default)", "--collection-group=clients", "--query-scope=collection",
			"--field-config=field-path=worker_key,order=ascending", "--field-config=field-path=name_key,order=descending",
			"--field-config=field-path=__name__,order=descending", "--project=expert-test"},
		{"firestore", "indexes", "composite", "create", "--database=(default)", "--collection-group=clients", "--query-scope=collection-group",
			"--field-config=field-path=addresses,array-config=contains", "--field-config=field-path=synced_at,order=ascending",
			"--project=expert-test"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d index steps, want %d", len(got), len(want))
	}
	for i := range want {
		if !slices.Equal(got[i].Args, want[i]) || !got[i].AlreadyExistsOK {
			t.Errorf("index step %d = %q (AlreadyExistsOK %v),\nwant %q", i, got[i].Args, got[i].AlreadyExistsOK, want[i])
		}
	}
}

func TestPlanRejectsSettings(t *testing.T) {
	cases := map[string]struct {
		env  map[string]string
		want string
	}{
		"secret in the file":   {map[string]string{"TWILIO_AUTH_TOKEN": "x"}, "TWILIO_AUTH_TOKEN: is a secret"},
		"secret by its alias":  {map[string]string{"DB_PASS": "x"}, "DB_PASS: is a secret"},
		"unknown variable":     {map[string]string{"STRAPI_URI": "https://x"}, "STRAPI_URI: not a setting"},
		"unknown country form": {map[string]string{"FRONTLINE_PROXY_NUMBER_FRA": "+33"}, "FRONTLINE_PROXY_NUMBER_FRA: not a setting"},
		"unknown function URL": {map[string]string{"PUBLIC_URL_REPORTS": "https://x"}, "PUBLIC_URL_REPORTS: not a setting"},
		"local only":           {map[string]string{"PORT": "9000"}, "PORT: applies to local runs only"},
		"emulator":             {map[string]string{"FIRESTORE_EMULATOR_HOST": "localhost:8080"}, "FIRESTORE_EMULATOR_HOST: applies to local runs only"},
		"tasks emulator":       {map[string]string{"CLOUD_TASKS_EMULATOR_HOST": "localhost:8123"}, "CLOUD_TASKS_EMULATOR_HOST: applies to local runs only"},
		"other queue":          {map[string]string{"WORK_QUEUE": "projects/x/locations/y/queues/z"}, "WORK_QUEUE: deploy sets it to projects/expert-test/locations/europe-west1/queues/eh-prod-work"},
		"other project":        {map[string]string{"GOOGLE_CLOUD_PROJECT": "other"}, "GOOGLE_CLOUD_PROJECT: deploy sets it"},
		"name and alias":       {map[string]string{"STRAPI_URL": "https://a.example.com"}, "STRAPI_URL: set twice"},
		"multi-line value":     {map[string]string{"WELCOME_MESSAGE": "a\nb"}, "WELCOME_MESSAGE: must be one line"},
		"invalid value":        {map[string]string{"FRONTLINE_WORKSPACE": "XX1"}, "FRONTLINE_WORKSPACE: must start with WS"},
		"no Twilio account":    {map[string]string{"TWILIO_ACCOUNT_SID": ""}, "TWILIO_ACCOUNT_SID: is required"},
	}
	for name, c := range cases {
		s := testSettings(t)
		for k, v := range c.env {
			s.Env[k] = v
		}
		_, err := plan(t, s)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, c.want)
		}
	}
}

func TestDictFlag(t *testing.T) {
	for _, m := range []map[string]string{
		{"A": "1", "B": "x=y"},
		{"A": "Hello, world", "B": "user@example.com"},
		{"A": "a,@|;~#%+", "B": "b"},
	} {
		f, err := dictFlag("--set-env-vars", m)
		if err != nil {
			t.Fatal(err)
		}
		value, _ := strings.CutPrefix(f, "--set-env-vars=")
		if got := parseDict(t, value); !mapsEqual(got, m) {
			t.Errorf("dictFlag(%v) = %q, reads back as %v", m, f, got)
		}
	}
}

func TestPlanWorkQueue(t *testing.T) {
	steps, err := plan(t, testSettings(t))
	if err != nil {
		t.Fatal(err)
	}
	const (
		run   = "--member=serviceAccount:eh-prod-run@expert-test.iam.gserviceaccount.com"
		tasks = "eh-prod-tasks@expert-test.iam.gserviceaccount.com"
		queue = "projects/expert-test/locations/europe-west1/queues/eh-prod-work"
	)
	settings := []string{"--location=europe-west1", "--project=expert-test",
		"--max-dispatches-per-second=50", "--max-concurrent-dispatches=20",
		"--max-attempts=100", "--max-retry-duration=1800s", "--min-backoff=1s", "--max-backoff=30s", "--max-doublings=4"}
	create := stepsWith(steps, "tasks", "queues", "create")
	if len(create) != 1 {
		t.Fatalf("%d queue steps, want 1", len(create))
	}
	q := create[0]
	if want := append([]string{"tasks", "queues", "create", "eh-prod-work"}, settings...); !slices.Equal(q.Args, want) {
		t.Errorf("queue create = %q,\nwant %q", q.Args, want)
	}
	if want := append([]string{"tasks", "queues", "update", "eh-prod-work"}, settings...); !slices.Equal(q.Update, want) {
		t.Errorf("queue update = %q,\nwant %q", q.Update, want)
	}
	if want := []string{"tasks", "queues", "describe", "eh-prod-work", "--location=europe-west1", "--project=expert-test"}; !slices.Equal(q.Exists, want) {
		t.Errorf("queue probe = %q", q.Exists)
	}

	want := [][]string{
		{"iam", "service-accounts", "add-iam-policy-binding", tasks, run, "--role=roles/iam.serviceAccountUser", "--project=expert-test"},
		{"tasks", "queues", "add-iam-policy-binding", "eh-prod-work", "--location=europe-west1", "--project=expert-test", run, "--role=roles/cloudtasks.enqueuer"},
		{"tasks", "queues", "add-iam-policy-binding", "eh-prod-work", "--location=europe-west1", "--project=expert-test", run, "--role=roles/cloudtasks.taskDeleter"},
		{"run", "services", "add-iam-policy-binding", "eh-prod-work", "--region=europe-west1", "--project=expert-test",
			"--member=serviceAccount:" + tasks, "--role=roles/run.invoker"},
	}
	for _, w := range want {
		if !slices.ContainsFunc(steps, func(st Step) bool { return slices.Equal(st.Args, w) }) {
			t.Errorf("no step %q", w)
		}
	}
	// The queue's identity may only call work; work lets nobody else in.
	for _, st := range stepsWith(steps, "run", "services", "add-iam-policy-binding") {
		if st.Args[3] == "eh-prod-work" && slices.Contains(st.Args, "--member=allUsers") {
			t.Errorf("work is public: %q", st.Args)
		}
		if st.Args[3] != "eh-prod-work" && slices.Contains(st.Args, "--member=serviceAccount:"+tasks) {
			t.Errorf("%s may be invoked by the tasks identity: %q", st.Args[3], st.Args)
		}
	}

	for _, st := range stepsWith(steps, "functions", "deploy") {
		name := function.Name(strings.TrimPrefix(st.Args[2], "eh-prod-"))
		raw, _ := flagValue(st.Args, "set-env-vars")
		env := parseDict(t, raw)
		enqueues := slices.Contains([]function.Name{function.Routing, function.PostEvent, function.Work, function.TaskRouterEvents, function.Handoff, function.FlexEvents}, name)
		if got := env["WORK_QUEUE"] == queue && env["WORK_SERVICE_ACCOUNT"] == tasks; got != enqueues {
			t.Errorf("%s: WORK_QUEUE=%q WORK_SERVICE_ACCOUNT=%q; want them set: %v", name, env["WORK_QUEUE"], env["WORK_SERVICE_ACCOUNT"], enqueues)
		}
		if !enqueues && (env["WORK_QUEUE"] != "" || env["WORK_SERVICE_ACCOUNT"] != "") {
			t.Errorf("%s gets the queue settings", name)
		}
		if name == function.Work {
			if slices.Contains(st.Args, "--allow-unauthenticated") || !slices.Contains(st.Args, "--no-allow-unauthenticated") {
				t.Errorf("work deployed public: %q", st.Args)
			}
			if v, _ := flagValue(st.Args, "timeout"); v != "60s" {
				t.Errorf("work timeout %s, want 60s", v)
			}
			if v, _ := flagValue(st.Args, "min-instances"); v != "0" {
				t.Errorf("work min-instances %s, want 0", v)
			}
		}
	}
	if notes := steps[len(steps)-1].Comment; !strings.Contains(notes, "work is internal (only Cloud Tasks queue eh-prod-work calls it, as eh-prod-tasks): nothing to set in Twilio or Strapi.") {
		t.Errorf("closing notes do not say work is internal:\n%s", notes)
	}
}

func TestPlanWorkTuning(t *testing.T) {
	s := testSettings(t)
	s.Env["WORK_DELAY"] = "2s"
	s.Env["WORK_MAX_AGE"] = "10m"
	s.Env["GOOGLE_CLOUD_PROJECT"] = "expert-test" // the value deploy sets: tolerated
	steps, err := plan(t, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stepsWith(steps, "functions", "deploy") {
		raw, _ := flagValue(st.Args, "set-env-vars")
		env := parseDict(t, raw)
		if env["WORK_DELAY"] != "2s" || env["WORK_MAX_AGE"] != "10m" || env["GOOGLE_CLOUD_PROJECT"] != "expert-test" {
			t.Errorf("%s: env %v lacks the tuning", st.Args[2], env)
		}
	}
}

// The gcloud path names every resource of the environment: no step of
// staging's plan names one of production's resources, and the functions
// know their own URLs.
func TestPlanNamesEnvironment(t *testing.T) {
	s := testSettings(t)
	s.Environment = "staging"
	steps, err := plan(t, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range steps {
		joined := strings.Join(st.Args, " ")
		if strings.Contains(joined, "eh-prod") {
			t.Errorf("staging step names prod: %s", joined)
		}
	}
	for _, st := range stepsWith(steps, "functions", "deploy") {
		raw, _ := flagValue(st.Args, "set-env-vars")
		env := parseDict(t, raw)
		if got := env["PUBLIC_URL_CRM"]; got != "https://europe-west1-expert-test.cloudfunctions.net/eh-staging-crm" {
			t.Errorf("%s: PUBLIC_URL_CRM=%q", st.Args[2], got)
		}
		if got, _ := flagValue(st.Args, "update-labels"); got != "app=expert-hub,environment=staging" {
			t.Errorf("%s: labels %q", st.Args[2], got)
		}
	}
	if _, err := plan(t, Settings{Project: "expert-test", Region: "europe-west1"}); err == nil {
		t.Error("a plan without an environment")
	}
}
