package deployment

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/function"
	"github.com/experthub/experthub/internal/taskqueue/engine"
)

func TestDescriptionAppliesDefaults(t *testing.T) {
	d := description(t)
	cases := map[function.Name]Function{
		function.CRM: {Name: function.CRM, Account: RunAccount, Memory: "512Mi", CPU: "1", Concurrency: 40, TimeoutSeconds: 60, MaxInstances: 10, Public: true, Invokers: []string{}},
		function.Sync: {Name: function.Sync, Account: "sync", Memory: "512Mi", CPU: "1", Concurrency: 40, TimeoutSeconds: 900, MaxInstances: 1, Public: true,
			Invokers: []string{"scheduler"}},
		function.Routing: {Name: function.Routing, Account: RunAccount, Memory: "512Mi", CPU: "1", Concurrency: 40, TimeoutSeconds: 60, MinInstances: 1, MaxInstances: 10,
			Public: true, Invokers: []string{}},
		function.Work: {Name: function.Work, Account: RunAccount, Memory: "512Mi", CPU: "1", Concurrency: 40, TimeoutSeconds: 60, MaxInstances: 10, Invokers: []string{"tasks"}},
	}
	for name, want := range cases {
		got, ok := d.Function(name)
		if !ok || !functionsEqual(got, want) {
			t.Errorf("%s = %+v, want %+v", name, got, want)
		}
	}
}

// A function's own list replaces the default one without writing into it:
// json.Unmarshal reuses a slice's array.
func TestDescriptionDefaultListsNotShared(t *testing.T) {
	src := strings.Replace(string(descriptionJSON), `"invokers": []`, `"invokers": ["scheduler"]`, 1)
	d, err := ParseDescription([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[function.Name][]string{function.CRM: {"scheduler"}, function.Outgoing: {"scheduler"}, function.Work: {"tasks"}} {
		if f, _ := d.Function(name); !slices.Equal(f.Invokers, want) {
			t.Errorf("%s invokers = %v, want %v", name, f.Invokers, want)
		}
	}
}

// TestDescriptionDeploysEveryFunction: the description deploys the
// functions of internal/function, each once, in its order (the order the
// README lists them).
func TestDescriptionDeploysEveryFunction(t *testing.T) {
	if got, want := description(t).FunctionNames(), function.All(); !slices.Equal(got, want) {
		t.Errorf("%s deploys %q, want internal/function's %q", DescriptionFile, got, want)
	}
}

func functionsEqual(a, b Function) bool {
	inv := slices.Equal(a.Invokers, b.Invokers)
	a.Invokers, b.Invokers = nil, nil
	return inv && reflect.DeepEqual(a, b)
}

func TestDescriptionRejects(t *testing.T) {
	cases := []struct {
		name, old, new, want string
	}{
		{"unknown member", `"runtime": "go126",`, `"runtime": "go126", "runtimes": [],`, `unknown field "runtimes"`},
		{"unknown function setting", `"name": "crm"`, `"name": "crm", "memmory": "1Gi"`, `functions[0]: json: unknown field "memmory"`},
		{"invoker not an account", `"invokers": ["tasks"]`, `"invokers": ["task"]`, `functions.work.invokers: no service account "task"`},
		{"env for an unknown function", `"from": "queue:work", "functions": ["routing", `, `"from": "queue:work", "functions": ["worker", `, `env.WORK_QUEUE: no function "worker"`},
		{"env for no function", `"from": "queue:work", "functions": ["routing", "post-event", "work", "taskrouter-events", "handoff", "flex-events"]`, `"from": "queue:work", "functions": []`, "env.WORK_QUEUE: functions is empty"},
		{"env from nowhere", `"from": "queue:work"`, `"from": "region"`, `env.WORK_QUEUE: from "region"`},
		{"env from an unknown queue", `"from": "queue:work"`, `"from": "queue:jobs"`, `env.WORK_QUEUE: no queue "jobs"`},
		{"queue target lacks the invoker", `"invokers": ["tasks"]`, `"invokers": ["scheduler"]`, "target work does not list oidc_account tasks"},
		{"bad queue duration", `"max_backoff": "30s"`, `"max_backoff": "30"`, "durations like 30s"},
		{"concurrency without a cpu", `"cpu": "1"`, `"cpu": "0.5"`, "above 1 needs cpu >= 1"},
		{"function twice", `"name": "outgoing"`, `"name": "crm"`, `"crm" is not a function name, or is listed twice`},
		{"condition on a secret", `"set": ["TWILIO_API_KEY"]`, `"set": ["TWILIO_AUTH_TOKEN"]`, "wired_when names secret TWILIO_AUTH_TOKEN"},
		{"function runs as no account", `"name": "sync", "account": "sync"`, `"name": "sync", "account": "syncer"`, `functions.sync.account: no service account "syncer"`},
		{"secret for an unknown function", `"functions": ["sync"]`, `"functions": ["synk"]`, `secrets.STRAPI_WEBHOOK_SECRET: no function "synk"`},
		{"secret for no function", `"functions": ["sync"]`, `"functions": []`, "secrets: STRAPI_WEBHOOK_SECRET: functions is empty"},
		{"no functions' identity", `"run": {`, `"runner": {`, `the functions' identity: no service account "run"`},
		{"trailing data", "\n}\n", "\n}\n{}", "data after the JSON value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := string(descriptionJSON)
			if !strings.Contains(src, c.old) {
				t.Fatalf("%s does not contain %q", DescriptionFile, c.old)
			}
			_, err := ParseDescription([]byte(strings.Replace(src, c.old, c.new, 1)))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// TestBuildAccountRoles: the build service account has exactly the roles
// Google lists for a Cloud Run functions (2nd gen) build: Logs Writer,
// Artifact Registry Writer and Storage Object Admin
// (https://cloud.google.com/run/docs/configuring/services/build-service-account).
// Storage Object Viewer, the 1st-gen requirement, is not enough.
func TestBuildAccountRoles(t *testing.T) {
	d := description(t)
	var roles []string
	for _, r := range d.ProjectRoles {
		if r.Account == "build" {
			roles = append(roles, r.Role)
		}
	}
	slices.Sort(roles)
	want := []string{"roles/artifactregistry.writer", "roles/logging.logWriter", "roles/storage.objectAdmin"}
	if !slices.Equal(roles, want) {
		t.Errorf("build account roles = %v, want %v", roles, want)
	}
}

// TestQueueDispatch: a queue's settings as the Cloud Tasks fakes take
// them, and a duration they cannot read.
func TestQueueDispatch(t *testing.T) {
	q := Queue{
		Name:        "work",
		RateLimits:  RateLimits{MaxDispatchesPerSecond: 50, MaxConcurrentDispatches: 20},
		RetryConfig: RetryConfig{MaxAttempts: 100, MaxRetryDuration: "1800s", MinBackoff: "1s", MaxBackoff: "30s", MaxDoublings: 4},
	}
	retry, rate, err := q.Dispatch()
	if err != nil {
		t.Fatal(err)
	}
	want := engine.RetryConfig{MaxAttempts: 100, MaxRetryDuration: 30 * time.Minute, MinBackoff: time.Second, MaxBackoff: 30 * time.Second, MaxDoublings: 4}
	if retry != want {
		t.Errorf("retry = %+v, want %+v", retry, want)
	}
	if want := (engine.RateLimits{MaxDispatchesPerSecond: 50, MaxConcurrentDispatches: 20}); rate != want {
		t.Errorf("rate = %+v, want %+v", rate, want)
	}
	q.RetryConfig.MinBackoff = "soon"
	if _, _, err := q.Dispatch(); err == nil {
		t.Error(`a min_backoff of "soon" was read`)
	}
	d, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.Queues["work"].Dispatch(); err != nil {
		t.Errorf("the deployed work queue: %v", err)
	}
}

func TestLookup(t *testing.T) {
	d := description(t)
	cases := map[string]string{ // name → config.Var it resolves to; "" = none
		"STRAPI_URL":                  "STRAPI_URL",
		"DB_URL":                      "STRAPI_URL",
		"FRONTLINE_PROXY_NUMBER":      "FRONTLINE_PROXY_NUMBER",
		"FRONTLINE_PROXY_NUMBER_GB":   "FRONTLINE_PROXY_NUMBER_<CC>",
		"FRONTLINE_PROXY_NUMBER_G":    "",
		"PUBLIC_URL_PRE_EVENT":        "PUBLIC_URL_<FUNCTION>",
		"PUBLIC_URL_PRE-EVENT":        "",
		"PUBLIC_URL_WORK":             "PUBLIC_URL_<FUNCTION>",
		"PUBLIC_URL_REPORTS":          "",
		"PUBLIC_URL_<FUNCTION>":       "PUBLIC_URL_<FUNCTION>",
		"FRONTLINE_PROXY_NUMBER_<CC>": "FRONTLINE_PROXY_NUMBER_<CC>",
		"TWILIO_AUTH_TOKEN":           "TWILIO_AUTH_TOKEN",
		"NOT_A_SETTING":               "",
	}
	for name, want := range cases {
		v, ok := d.Lookup(name)
		if ok != (want != "") || v.Name != want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", name, v.Name, ok, want)
		}
	}
}

func TestWiredSecrets(t *testing.T) {
	d := description(t)
	cases := []struct {
		env  map[string]string
		want []string
	}{
		{nil, []string{"TWILIO_AUTH_TOKEN", "STRAPI_WEBHOOK_SECRET"}},
		{map[string]string{"STRAPI_URL": "https://x"}, []string{"TWILIO_AUTH_TOKEN", "STRAPI_API_TOKEN", "STRAPI_WEBHOOK_SECRET"}},
		{map[string]string{"STRAPI_URL": "https://x", "STRAPI_IDENTIFIER": "u"}, []string{"TWILIO_AUTH_TOKEN", "STRAPI_PASSWORD", "STRAPI_WEBHOOK_SECRET"}},
		{map[string]string{"TWILIO_API_KEY": "SK1"}, []string{"TWILIO_AUTH_TOKEN", "TWILIO_API_SECRET", "STRAPI_WEBHOOK_SECRET"}},
	}
	for _, c := range cases {
		if got := d.WiredSecrets(c.env); !slices.Equal(got, c.want) {
			t.Errorf("WiredSecrets(%v) = %v, want %v", c.env, got, c.want)
		}
	}
}

// TestSecretsPerAccount: an account reads the secrets of the functions
// that run as it, and a secret limited to some functions (sync's webhook
// secret) goes to no other function.
func TestSecretsPerAccount(t *testing.T) {
	d := description(t)
	wired := d.WiredSecrets(map[string]string{"STRAPI_URL": "https://x"})
	if got, want := d.FunctionSecrets("crm", wired), []string{"TWILIO_AUTH_TOKEN", "STRAPI_API_TOKEN"}; !slices.Equal(got, want) {
		t.Errorf("FunctionSecrets(crm) = %v, want %v", got, want)
	}
	if got := d.FunctionSecrets("sync", wired); !slices.Equal(got, wired) {
		t.Errorf("FunctionSecrets(sync) = %v, want %v", got, wired)
	}
	if got, want := d.AccountSecrets(RunAccount, wired), []string{"TWILIO_AUTH_TOKEN", "STRAPI_API_TOKEN"}; !slices.Equal(got, want) {
		t.Errorf("AccountSecrets(run) = %v, want %v", got, want)
	}
	if got := d.AccountSecrets("sync", wired); !slices.Equal(got, wired) {
		t.Errorf("AccountSecrets(sync) = %v, want %v", got, wired)
	}
	if got := d.AccountSecrets("tasks", wired); len(got) != 0 {
		t.Errorf("AccountSecrets(tasks) = %v; no function runs as it", got)
	}
}

func TestSecretID(t *testing.T) {
	d := description(t)
	if got := d.SecretID("STRAPI_WEBHOOK_SECRET"); got != "strapi-webhook-secret" {
		t.Errorf("SecretID = %q", got)
	}
	if got := d.SecretID("STRAPI_URL"); got != "" {
		t.Errorf("SecretID of a plain setting = %q", got)
	}
}

func TestReadIndexesRejects(t *testing.T) {
	for name, content := range map[string]string{
		"not json":        `{`,
		"no fields":       `{"indexes": [{"collectionGroup": "customers", "fields": []}]}`,
		"no order":        `{"indexes": [{"collectionGroup": "customers", "fields": [{"fieldPath": "a"}]}]}`,
		"order and array": `{"indexes": [{"collectionGroup": "customers", "fields": [{"fieldPath": "a", "order": "ASCENDING", "arrayConfig": "CONTAINS"}]}]}`,
	} {
		path := filepath.Join(t.TempDir(), "indexes.json")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadIndexes(path); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := ReadIndexes(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("missing file: no error")
	}
}

// TestParseIndexesTTL: of the field overrides, only TTL policies are
// kept; an override that only changes a field's indexing is not one.
func TestParseIndexesTTL(t *testing.T) {
	ix, err := ParseIndexes([]byte(`{"indexes": [], "fieldOverrides": [
  {"collectionGroup": "ledger", "fieldPath": "expires_at", "ttl": true},
  {"collectionGroup": "customers", "fieldPath": "notes", "indexes": []}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := []TTLField{{CollectionGroup: "ledger", FieldPath: "expires_at", TTL: true}}; !slices.Equal(ix.TTL, want) {
		t.Errorf("TTL = %+v, want %+v", ix.TTL, want)
	}
}

func TestRepositoryIndexesParse(t *testing.T) {
	indexes, err := ReadIndexes(filepath.Join("..", "..", IndexesFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(indexes.Composite) == 0 || len(indexes.TTL) == 0 {
		t.Errorf("%s lists %d composite indexes and %d TTL policies, want some of each", IndexesFile, len(indexes.Composite), len(indexes.TTL))
	}
}

// description returns the embedded description.
func description(t *testing.T) *Description {
	t.Helper()
	d, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	return d
}
