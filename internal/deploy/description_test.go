package deploy

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/taskqueue/engine"
)

func TestDescriptionAppliesDefaults(t *testing.T) {
	d := description(t)
	cases := map[string]Function{
		"crm": {Name: "crm", Memory: "512Mi", CPU: "1", Concurrency: 40, TimeoutSeconds: 60, MaxInstances: 10, Public: true, Invokers: []string{}},
		"sync": {Name: "sync", Memory: "512Mi", CPU: "1", Concurrency: 40, TimeoutSeconds: 900, MaxInstances: 1, Public: true,
			Invokers: []string{"scheduler"}},
		"routing": {Name: "routing", Memory: "512Mi", CPU: "1", Concurrency: 40, TimeoutSeconds: 60, MinInstances: 1, MaxInstances: 10,
			Public: true, Invokers: []string{}},
		"work": {Name: "work", Memory: "512Mi", CPU: "1", Concurrency: 40, TimeoutSeconds: 60, MaxInstances: 10, Invokers: []string{"tasks"}},
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
	for name, want := range map[string][]string{"crm": {"scheduler"}, "outgoing": {"scheduler"}, "work": {"tasks"}} {
		if f, _ := d.Function(name); !slices.Equal(f.Invokers, want) {
			t.Errorf("%s invokers = %v, want %v", name, f.Invokers, want)
		}
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
		{"env for no function", `"from": "queue:work", "functions": ["routing", "post-event", "work", "taskrouter-events", "handoff"]`, `"from": "queue:work", "functions": []`, "env.WORK_QUEUE: functions is empty"},
		{"env from nowhere", `"from": "queue:work"`, `"from": "region"`, `env.WORK_QUEUE: from "region"`},
		{"env from an unknown queue", `"from": "queue:work"`, `"from": "queue:jobs"`, `env.WORK_QUEUE: no queue "jobs"`},
		{"queue target lacks the invoker", `"invokers": ["tasks"]`, `"invokers": ["scheduler"]`, "target work does not list oidc_account tasks"},
		{"bad queue duration", `"max_backoff": "30s"`, `"max_backoff": "30"`, "durations like 30s"},
		{"concurrency without a cpu", `"cpu": "1"`, `"cpu": "0.5"`, "above 1 needs cpu >= 1"},
		{"function twice", `"name": "outgoing"`, `"name": "crm"`, `"crm" is not a function name, or is listed twice`},
		{"condition on a secret", `"set": ["TWILIO_API_KEY"]`, `"set": ["TWILIO_AUTH_TOKEN"]`, "wired_when names secret TWILIO_AUTH_TOKEN"},
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

func TestPlanWorkQueue(t *testing.T) {
	steps, err := Plan(testSettings(t))
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
		name := strings.TrimPrefix(st.Args[2], "eh-prod-")
		raw, _ := flagValue(st.Args, "set-env-vars")
		env := parseDict(t, raw)
		enqueues := name == "routing" || name == "post-event" || name == "work" || name == "taskrouter-events" || name == "handoff"
		if got := env["WORK_QUEUE"] == queue && env["WORK_SERVICE_ACCOUNT"] == tasks; got != enqueues {
			t.Errorf("%s: WORK_QUEUE=%q WORK_SERVICE_ACCOUNT=%q; want them set: %v", name, env["WORK_QUEUE"], env["WORK_SERVICE_ACCOUNT"], enqueues)
		}
		if !enqueues && (env["WORK_QUEUE"] != "" || env["WORK_SERVICE_ACCOUNT"] != "") {
			t.Errorf("%s gets the queue settings", name)
		}
		if name == "work" {
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
	steps, err := Plan(s)
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
