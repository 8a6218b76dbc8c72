// Package gcloudplan turns the deployment description (internal/deployment)
// into the gcloud commands that deploy one environment of Expert Hub to a
// project: a Plan of Steps, which WriteScript prints as a bash script and
// Run runs, both converging when run again.
package gcloudplan

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/experthub/experthub/internal/deployment"
	"github.com/experthub/experthub/internal/function"
)

// Settings are the inputs of one deployment.
type Settings struct {
	Project           string
	Environment       string            // names every unique resource (Description.ForEnvironment)
	Region            string            // of the functions, the queue and the scheduler job
	FirestoreLocation string            // default: Region
	Source            string            // directory to upload; default "."
	Schedule          string            // cron of the full sync; default "0 3 * * *"
	TimeZone          string            // of Schedule; default "Etc/UTC"
	Env               map[string]string // non-secret settings (config.Vars names)
}

// Step is one gcloud invocation, or only a comment when Args is nil. Steps are written so that running all of
// them again converges instead of failing on what exists already.
type Step struct {
	Comment string
	Args    []string // gcloud arguments, without "gcloud"
	// Exists, when set, is a command that succeeds if the resource exists;
	// Update then runs instead of Args, or nothing when Update is nil.
	Exists []string
	Update []string
	// AlreadyExistsOK treats an ALREADY_EXISTS failure of Args as done,
	// for resources without a cheap probe (Firestore indexes).
	AlreadyExistsOK bool
	// Expect, when set, makes an empty output of Args fatal, with Expect as
	// the message.
	Expect string
}

// functionsOrigin is where Cloud Functions serves the project's functions
// in the region: https://REGION-PROJECT.cloudfunctions.net/<name>.
func (s Settings) functionsOrigin() string {
	return "https://" + s.Region + "-" + s.Project + ".cloudfunctions.net"
}

func (s Settings) withDefaults() Settings {
	if s.FirestoreLocation == "" {
		s.FirestoreLocation = s.Region
	}
	if s.Source == "" {
		s.Source = "."
	}
	if s.Schedule == "" {
		s.Schedule = "0 3 * * *"
	}
	if s.TimeZone == "" {
		s.TimeZone = "Etc/UTC"
	}
	return s
}

// Plan returns the gcloud steps that take an empty project to the
// functions d describes, in environment s.Environment: APIs, service accounts and their roles, Firestore and its
// indexes, the Cloud Tasks queues, the secret containers, the functions,
// their invokers, and the full-sync schedule. Secret values are never part
// of it: the operator adds them with `gcloud secrets versions add`.
func Plan(d *deployment.Description, s Settings) ([]Step, error) {
	if s.Project == "" || s.Region == "" || s.Environment == "" {
		return nil, errors.New("gcloudplan: project, region and environment are required")
	}
	d, err := d.ForEnvironment(s.Environment)
	if err != nil {
		return nil, err
	}
	s = s.withDefaults()
	e, err := newEnvironment(d, s)
	if err != nil {
		return nil, err
	}
	p := planner{d: d, s: s, e: e, project: "--project=" + s.Project}
	p.identities()
	if err := p.firestore(); err != nil {
		return nil, err
	}
	p.queues()
	p.secrets()
	if err := p.functions(); err != nil {
		return nil, err
	}
	p.invokers()
	p.schedule()
	p.notes()
	return p.steps, nil
}

// planner accumulates the steps of a Plan.
type planner struct {
	d       *deployment.Description
	s       Settings
	e       environment
	project string // --project flag
	steps   []Step
}

func (p *planner) add(st Step) { p.steps = append(p.steps, st) }

// labels is flag set to the environment's labels (app, environment).
func (p *planner) labels(flag string) string {
	f, _ := dictFlag(flag, p.d.Labels(p.d.Environment)) // labels hold no comma
	return f
}

func (p *planner) member(key string) string {
	return "--member=serviceAccount:" + p.d.AccountEmail(key, p.s.Project)
}

func (p *planner) identities() {
	p.add(Step{
		Comment: "APIs a fresh project needs.",
		Args:    append(append([]string{"services", "enable"}, p.d.APIs...), p.project),
	})
	for _, key := range slices.Sorted(maps.Keys(p.d.ServiceAccounts)) {
		sa := p.d.ServiceAccounts[key]
		p.add(Step{
			Comment: "Service account " + sa.ID + " (" + sa.DisplayName + ").",
			Args:    []string{"iam", "service-accounts", "create", sa.ID, "--display-name=" + sa.DisplayName, p.project},
			Exists:  []string{"iam", "service-accounts", "describe", p.d.AccountEmail(key, p.s.Project), p.project},
		})
	}
	for _, key := range slices.Sorted(maps.Keys(p.d.ProjectRoles)) {
		r := p.d.ProjectRoles[key]
		condition := "--condition=None"
		if r.Condition != nil {
			condition = "--condition=expression=" + r.Condition.Expression + ",title=" + r.Condition.Title
		}
		p.add(Step{
			Comment: r.Role + " for " + p.d.ServiceAccounts[r.Account].ID + ": " + r.Why + ".",
			Args:    []string{"projects", "add-iam-policy-binding", p.s.Project, p.member(r.Account), "--role=" + r.Role, condition},
		})
	}
	for _, key := range slices.Sorted(maps.Keys(p.d.Queues)) {
		q := p.d.Queues[key]
		for _, enqueuer := range q.Enqueuers {
			p.add(Step{
				Comment: p.d.ServiceAccounts[enqueuer].ID + " may sign the OIDC tokens of queue " + q.Name + "'s tasks as " +
					p.d.ServiceAccounts[q.OIDCAccount].ID + " (iam.serviceAccounts.actAs).",
				Args: []string{"iam", "service-accounts", "add-iam-policy-binding", p.d.AccountEmail(q.OIDCAccount, p.s.Project),
					p.member(enqueuer), "--role=roles/iam.serviceAccountUser", p.project},
			})
		}
	}
}

func (p *planner) firestore() error {
	db := "--database=" + p.e.config.FirestoreDatabase
	p.add(Step{
		Comment: "Firestore database (native mode) of the customer cache.",
		Args:    []string{"firestore", "databases", "create", db, "--location=" + p.s.FirestoreLocation, "--type=firestore-native", "--delete-protection", p.project},
		Exists:  []string{"firestore", "databases", "describe", db, p.project},
	})
	indexes, err := deployment.ReadIndexes(filepath.Join(p.s.Source, deployment.IndexesFile))
	if err != nil {
		return fmt.Errorf("gcloudplan: %w", err)
	}
	for _, ix := range indexes.Composite {
		p.add(indexStep(ix, p.e.config.FirestoreCollection, db, p.project))
	}
	for _, f := range indexes.TTL {
		p.add(Step{
			Comment: "Firestore deletes " + f.CollectionGroup + " records once " + f.FieldPath + " has passed.",
			Args: []string{"firestore", "fields", "ttls", "update", f.FieldPath, db,
				"--collection-group=" + f.CollectionGroup, "--enable-ttl", "--async", p.project},
		})
	}
	return nil
}

func (p *planner) queues() {
	for _, key := range slices.Sorted(maps.Keys(p.d.Queues)) {
		q := p.d.Queues[key]
		location := "--location=" + p.s.Region
		r := q.RetryConfig
		settings := []string{location, p.project,
			"--max-dispatches-per-second=" + strconv.FormatFloat(q.RateLimits.MaxDispatchesPerSecond, 'f', -1, 64),
			"--max-concurrent-dispatches=" + strconv.Itoa(q.RateLimits.MaxConcurrentDispatches),
			"--max-attempts=" + strconv.Itoa(r.MaxAttempts), "--max-retry-duration=" + r.MaxRetryDuration,
			"--min-backoff=" + r.MinBackoff, "--max-backoff=" + r.MaxBackoff,
			"--max-doublings=" + strconv.Itoa(r.MaxDoublings)}
		p.add(Step{
			Comment: "Cloud Tasks queue " + q.Name + ": its tasks call " + string(q.Target) + ". It has no dead-letter queue: " +
				string(q.Target) + " gives up on a task itself, and --max-retry-duration is the backstop.",
			Args:   append([]string{"tasks", "queues", "create", q.Name}, settings...),
			Exists: []string{"tasks", "queues", "describe", q.Name, location, p.project},
			Update: append([]string{"tasks", "queues", "update", q.Name}, settings...),
		})
		for _, enqueuer := range q.Enqueuers {
			p.add(Step{
				Comment: p.d.ServiceAccounts[enqueuer].ID + " may add tasks to " + q.Name + ".",
				Args: []string{"tasks", "queues", "add-iam-policy-binding", q.Name, location, p.project,
					p.member(enqueuer), "--role=roles/cloudtasks.enqueuer"},
			})
			p.add(Step{
				Comment: p.d.ServiceAccounts[enqueuer].ID + " may delete the tasks of " + q.Name + " whose work it did at once.",
				Args: []string{"tasks", "queues", "add-iam-policy-binding", q.Name, location, p.project,
					p.member(enqueuer), "--role=roles/cloudtasks.taskDeleter"},
			})
		}
	}
}

func (p *planner) secrets() {
	for _, sec := range p.d.Secrets {
		p.add(Step{
			Comment: "Secret " + sec.Secret + " holds " + sec.Env + "; only its container is created here.",
			Args:    []string{"secrets", "create", sec.Secret, "--replication-policy=automatic", p.labels("--labels"), p.project},
			Exists:  []string{"secrets", "describe", sec.Secret, p.project},
		})
	}
	// Only the secrets the functions are given are readable, each by the
	// accounts of the functions given it: an unused one (the Flex token
	// without a contact center) stays out of every function's reach,
	// sync's webhook secret out of the others'.
	accounts := slices.Sorted(maps.Keys(p.d.ServiceAccounts))
	readable := make(map[string][]string, len(accounts))
	for _, key := range accounts {
		readable[key] = p.d.AccountSecrets(key, p.e.secrets)
	}
	for _, name := range p.e.secrets {
		id := p.d.SecretID(name)
		for _, key := range accounts {
			if slices.Contains(readable[key], name) {
				p.add(Step{
					Comment: p.d.ServiceAccounts[key].ID + " runs functions that read " + id + ".",
					Args:    []string{"secrets", "add-iam-policy-binding", id, p.member(key), "--role=roles/secretmanager.secretAccessor", p.project},
				})
			}
		}
		add := fmt.Sprintf("read -rs V && printf %%s \"$V\" | gcloud secrets versions add %s --data-file=- %s; unset V", id, p.project)
		p.add(Step{
			Comment: "The functions read " + name + " at start; add its value once (and to rotate it) with:\n  " + add,
			Args:    []string{"secrets", "versions", "list", id, "--filter=state=ENABLED", "--limit=1", "--format=value(name)", p.project},
			Expect:  "secret " + id + " has no enabled version: add the value of " + name + " as shown above",
		})
	}
}

func (p *planner) functions() error {
	for _, f := range p.d.Functions {
		envFlag, err := dictFlag("--set-env-vars", p.functionEnv(f.Name))
		if err != nil {
			return err
		}
		refs := map[string]string{}
		for _, name := range p.d.FunctionSecrets(f.Name, p.e.secrets) {
			refs[name] = p.d.SecretID(name) + ":latest"
		}
		secretFlag, err := dictFlag("--set-secrets", refs)
		if err != nil {
			return err
		}
		// Twilio and Strapi call the public functions; each checks its
		// caller itself (signature, shared secret or OIDC token). The others
		// let Cloud Run check the caller's token.
		auth := "--no-allow-unauthenticated"
		if f.Public {
			auth = "--allow-unauthenticated"
		}
		p.add(Step{
			Comment: "Function " + f.Deployed + " (entry point " + string(f.Name) + ").",
			Args: []string{"functions", "deploy", f.Deployed, "--gen2", "--region=" + p.s.Region, p.project,
				"--runtime=" + p.d.Runtime, "--source=" + p.s.Source, "--entry-point=" + string(f.Name), "--trigger-http",
				auth, "--ingress-settings=all",
				"--service-account=" + p.d.AccountEmail(f.Account, p.s.Project),
				"--build-service-account=projects/" + p.s.Project + "/serviceAccounts/" + p.d.AccountEmail(deployment.BuildAccount, p.s.Project),
				"--memory=" + f.Memory, "--cpu=" + f.CPU, "--concurrency=" + strconv.Itoa(f.Concurrency),
				"--timeout=" + strconv.Itoa(f.TimeoutSeconds) + "s", "--min-instances=" + strconv.Itoa(f.MinInstances),
				"--max-instances=" + strconv.Itoa(f.MaxInstances),
				p.labels("--update-labels"), envFlag, secretFlag, "--quiet"},
		})
	}
	return nil
}

func (p *planner) invokers() {
	for _, f := range p.d.Functions {
		service := []string{"run", "services", "add-iam-policy-binding", f.Deployed, "--region=" + p.s.Region, p.project}
		if f.Public {
			p.add(Step{
				Comment: "Anyone may call " + f.Deployed + " (--allow-unauthenticated only warns when an org policy blocks it).",
				Args:    append(slices.Clone(service), "--member=allUsers", "--role=roles/run.invoker"),
			})
		}
		for _, key := range f.Invokers {
			p.add(Step{
				Comment: p.d.ServiceAccounts[key].ID + " may invoke " + f.Deployed + ".",
				Args:    append(slices.Clone(service), p.member(key), "--role=roles/run.invoker"),
			})
		}
	}
}

func (p *planner) schedule() {
	sync, _ := p.d.Function(p.d.FullSync.Function) // checked by ParseDescription
	p.schedulerJob(p.d.FullSync.Job, sync, p.d.FullSync.Account, p.s.Schedule, p.s.TimeZone, p.e.common["SYNC_OIDC_AUDIENCE"],
		"Full sync of environment "+p.d.Environment+" on a schedule")
	sweep, _ := p.d.Function(p.d.LineSweep.Function) // checked by ParseDescription
	p.schedulerJob(p.d.LineSweep.Job, sweep, p.d.LineSweep.Account, p.d.LineSweep.Schedule, "Etc/UTC", p.e.config.PublicURL(sweep.Name),
		"Sweep of the waiting line of environment "+p.d.Environment+" every minute, in case a TaskRouter event is missed")
}

// schedulerJob creates or updates the Cloud Scheduler job that POSTs to
// function f on schedule, with an OIDC token of account minted for
// audience.
func (p *planner) schedulerJob(job string, f deployment.Function, account, schedule, timeZone, audience, what string) {
	location := "--location=" + p.s.Region
	flags := []string{job, location, p.project,
		"--schedule=" + schedule, "--time-zone=" + timeZone,
		"--uri=" + p.s.functionsOrigin() + "/" + f.Deployed, "--http-method=post",
		"--oidc-service-account-email=" + p.d.AccountEmail(account, p.s.Project),
		"--oidc-token-audience=" + audience,
		// HTTP targets allow at most 30 minutes.
		"--attempt-deadline=" + strconv.Itoa(min(f.TimeoutSeconds, 1800)) + "s"}
	p.add(Step{
		Comment: what + ": the OIDC token proves the caller to " + f.Deployed + ".",
		Args:    append([]string{"scheduler", "jobs", "create", "http"}, flags...),
		Exists:  []string{"scheduler", "jobs", "describe", job, location, p.project},
		Update:  append([]string{"scheduler", "jobs", "update", "http"}, flags...),
	})
}

// notes closes the plan with what the operator sets in Twilio and Strapi.
func (p *planner) notes() {
	cfg := p.e.config
	lines := []string{
		"Then point Twilio and Strapi of environment " + p.d.Environment + " at its functions:",
		"  Frontline > Manage > Callbacks: CRM callback URL " + cfg.PublicURL(function.CRM) +
			", outgoing conversations callback URL " + cfg.PublicURL(function.Outgoing) +
			", templates callback URL " + cfg.PublicURL(function.Templates),
		"  Frontline > Manage > Routing > custom routing URL " + cfg.PublicURL(function.Routing),
		"  Conversations > Manage > Global webhooks (POST): pre-event URL " + cfg.PublicURL(function.PreEvent) +
			" for " + strings.Join(p.d.PreEventFilters, ", "),
		"    and post-event URL " + cfg.PublicURL(function.PostEvent) + " for " + strings.Join(p.d.PostEventFilters, ", "),
		"  TaskRouter > Workspaces > (the Frontline workspace) > Settings: Event callback URL " + cfg.PublicURL(p.d.LineSweep.Function) +
			" for " + strings.Join(p.d.TaskRouterEvents, ", ") + " (unless another system owns it: the sweep then serves the waiting line alone)",
		"  Strapi > Settings > Webhooks: URL " + cfg.PublicURL(function.Sync) + ", events " + strings.Join(p.d.StrapiEvents, ", ") + ",",
		"    header Authorization: Bearer <value of secret " + p.d.SecretID("STRAPI_WEBHOOK_SECRET") + ">",
	}
	for _, f := range p.d.Functions {
		if !f.Public {
			lines = append(lines, "  "+f.Deployed+" is internal ("+p.internalCaller(f)+"): nothing to set in Twilio or Strapi.")
		}
	}
	p.add(Step{Comment: strings.Join(lines, "\n")})
}

// internalCaller says who may call a function that is not public.
func (p *planner) internalCaller(f deployment.Function) string {
	for _, key := range slices.Sorted(maps.Keys(p.d.Queues)) {
		if q := p.d.Queues[key]; q.Target == f.Name {
			return "only Cloud Tasks queue " + q.Name + " calls it, as " + p.d.ServiceAccounts[q.OIDCAccount].ID
		}
	}
	var ids []string
	for _, key := range f.Invokers {
		ids = append(ids, p.d.ServiceAccounts[key].ID)
	}
	return "only " + strings.Join(ids, ", ") + " may call it"
}

// indexStep creates ix on collection (the configured one: the file's
// collectionGroup names the default). __name__ is passed on as listed.
func indexStep(ix deployment.Index, collection, db, project string) Step {
	scope := "collection"
	if ix.QueryScope == "COLLECTION_GROUP" {
		scope = "collection-group"
	}
	args := []string{"firestore", "indexes", "composite", "create", db,
		"--collection-group=" + collection, "--query-scope=" + scope}
	var names []string
	for _, f := range ix.Fields {
		names = append(names, f.FieldPath)
		config := "field-path=" + f.FieldPath
		if f.ArrayConfig != "" {
			config += ",array-config=" + strings.ToLower(f.ArrayConfig)
		} else {
			config += ",order=" + strings.ToLower(f.Order)
		}
		args = append(args, "--field-config="+config)
	}
	return Step{
		Comment:         "Composite index on " + strings.Join(names, ", ") + " (ALREADY_EXISTS on a re-run is fine).",
		Args:            append(args, project),
		AlreadyExistsOK: true,
	}
}

// dictFlag formats a gcloud dictionary flag, sorted by key. A value with a
// comma switches to gcloud's ^DELIM^ syntax (gcloud topic escaping).
func dictFlag(flag string, m map[string]string) (string, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	items := make([]string, len(keys))
	for i, k := range keys {
		items[i] = k + "=" + m[k]
	}
	all := strings.Join(items, "")
	if !strings.Contains(all, ",") {
		return flag + "=" + strings.Join(items, ","), nil
	}
	for _, delim := range []string{"@", "|", ";", "~", "#", "%", "+", "@@@"} {
		if !strings.Contains(all, delim) {
			return flag + "=^" + delim + "^" + strings.Join(items, delim), nil
		}
	}
	return "", fmt.Errorf("%s: no delimiter free of the values' characters", flag)
}
