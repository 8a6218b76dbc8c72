package deploy

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Settings are the inputs of one deployment.
type Settings struct {
	Project           string
	Region            string            // of the functions and the scheduler job
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

func (s Settings) account(id string) string {
	return id + "@" + s.Project + ".iam.gserviceaccount.com"
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

// Plan returns the gcloud steps that take an empty project to the deployed
// functions: APIs, service accounts and their roles, Firestore and its
// indexes, the secret containers, the functions, their invokers, and the
// full-sync schedule. Secret values are never part of it: the operator adds
// them with `gcloud secrets versions add`.
func Plan(s Settings) ([]Step, error) {
	if s.Project == "" || s.Region == "" {
		return nil, errors.New("deploy: project and region are required")
	}
	s = s.withDefaults()
	env, secrets, cfg, err := s.environment()
	if err != nil {
		return nil, err
	}
	p := "--project=" + s.Project
	member := func(id string) string { return "--member=serviceAccount:" + s.account(id) }

	steps := []Step{{
		Comment: "APIs a fresh project needs.",
		Args:    append(append([]string{"services", "enable"}, APIs...), p),
	}}
	for _, sa := range []struct{ id, name string }{
		{RuntimeAccount, "Expert Hub functions"},
		{BuildAccount, "Expert Hub function builds"},
		{SchedulerAccount, "Expert Hub full-sync scheduler"},
	} {
		steps = append(steps, Step{
			Comment: "Service account " + sa.id + " (" + sa.name + ").",
			Args:    []string{"iam", "service-accounts", "create", sa.id, "--display-name=" + sa.name, p},
			Exists:  []string{"iam", "service-accounts", "describe", s.account(sa.id), p},
		})
	}
	roles := []struct{ id, role, why string }{
		{RuntimeAccount, "roles/datastore.user", "the functions read and write the Firestore cache"},
		{BuildAccount, "roles/logging.logWriter", "build logs"},
		{BuildAccount, "roles/artifactregistry.writer", "the built images"},
		{BuildAccount, "roles/storage.objectViewer", "the uploaded source"},
	}
	for _, r := range roles {
		steps = append(steps, Step{
			Comment: r.role + " for " + r.id + ": " + r.why + ".",
			Args:    []string{"projects", "add-iam-policy-binding", s.Project, member(r.id), "--role=" + r.role, "--condition=None"},
		})
	}

	db := "--database=" + cfg.FirestoreDatabase
	steps = append(steps, Step{
		Comment: "Firestore database (native mode) of the customer cache.",
		Args:    []string{"firestore", "databases", "create", db, "--location=" + s.FirestoreLocation, "--type=firestore-native", "--delete-protection", p},
		Exists:  []string{"firestore", "databases", "describe", db, p},
	})
	indexes, err := ReadIndexes(filepath.Join(s.Source, IndexesFile))
	if err != nil {
		return nil, fmt.Errorf("deploy: %w", err)
	}
	for _, ix := range indexes {
		steps = append(steps, indexStep(ix, cfg.FirestoreCollection, db, p))
	}
	ttls, err := ReadTTLFields(filepath.Join(s.Source, IndexesFile))
	if err != nil {
		return nil, fmt.Errorf("deploy: %w", err)
	}
	for _, f := range ttls {
		steps = append(steps, Step{
			Comment: "Firestore deletes " + f.CollectionGroup + " records once " + f.FieldPath + " has passed.",
			Args: []string{"firestore", "fields", "ttls", "update", f.FieldPath, db,
				"--collection-group=" + f.CollectionGroup, "--enable-ttl", "--async", p},
		})
	}

	for _, name := range SecretVars() {
		id := SecretID(name)
		steps = append(steps,
			Step{
				Comment: "Secret " + id + " holds " + name + "; only its container is created here.",
				Args:    []string{"secrets", "create", id, "--replication-policy=automatic", p},
				Exists:  []string{"secrets", "describe", id, p},
			},
			Step{
				Comment: "Only the functions' identity may read " + id + ".",
				Args:    []string{"secrets", "add-iam-policy-binding", id, member(RuntimeAccount), "--role=roles/secretmanager.secretAccessor", p},
			})
	}
	for _, name := range secrets {
		id := SecretID(name)
		add := fmt.Sprintf("read -rs V && printf %%s \"$V\" | gcloud secrets versions add %s --data-file=- %s; unset V", id, p)
		steps = append(steps, Step{
			Comment: "The functions read " + name + " at start; add its value once (and to rotate it) with:\n  " + add,
			Args:    []string{"secrets", "versions", "list", id, "--filter=state=ENABLED", "--limit=1", "--format=value(name)", p},
			Expect:  "secret " + id + " has no enabled version: add the value of " + name + " as shown above",
		})
	}

	envFlag, err := dictFlag("--set-env-vars", env)
	if err != nil {
		return nil, err
	}
	refs := map[string]string{}
	for _, name := range secrets {
		refs[name] = SecretID(name) + ":latest"
	}
	secretFlag, err := dictFlag("--set-secrets", refs)
	if err != nil {
		return nil, err
	}
	for _, f := range Functions {
		steps = append(steps, Step{
			Comment: "Function " + f.Name + " (entry point " + f.Name + ").",
			Args: []string{"functions", "deploy", f.Name, "--gen2", "--region=" + s.Region, p,
				"--runtime=" + Runtime, "--source=" + s.Source, "--entry-point=" + f.Name, "--trigger-http",
				// Twilio and Strapi call every function; each checks its
				// caller itself (signature, shared secret or OIDC token).
				"--allow-unauthenticated", "--ingress-settings=all",
				"--service-account=" + s.account(RuntimeAccount),
				"--build-service-account=projects/" + s.Project + "/serviceAccounts/" + s.account(BuildAccount),
				"--memory=" + f.Memory, "--cpu=" + f.CPU, "--concurrency=" + strconv.Itoa(f.Concurrency),
				"--timeout=" + seconds(f), "--min-instances=" + strconv.Itoa(f.MinInstances),
				"--max-instances=" + strconv.Itoa(f.MaxInstances),
				envFlag, secretFlag, "--quiet"},
		})
	}
	for _, f := range Functions {
		steps = append(steps, Step{
			Comment: "Anyone may call " + f.Name + " (--allow-unauthenticated only warns when an org policy blocks it).",
			Args: []string{"run", "services", "add-iam-policy-binding", f.Name, "--region=" + s.Region, p,
				"--member=allUsers", "--role=roles/run.invoker"},
		})
	}
	sync, ok := function("sync")
	if !ok {
		return nil, errors.New("deploy: no sync function to schedule")
	}
	steps = append(steps, Step{
		Comment: "The scheduler's identity may invoke sync even if it stops being public.",
		Args: []string{"run", "services", "add-iam-policy-binding", sync.Name, "--region=" + s.Region, p,
			member(SchedulerAccount), "--role=roles/run.invoker"},
	})
	job := []string{SchedulerJob, "--location=" + s.Region, p,
		"--schedule=" + s.Schedule, "--time-zone=" + s.TimeZone,
		"--uri=" + s.functionsOrigin() + "/" + sync.Name, "--http-method=post",
		"--oidc-service-account-email=" + s.account(SchedulerAccount),
		"--oidc-token-audience=" + env["SYNC_OIDC_AUDIENCE"],
		"--attempt-deadline=" + seconds(sync)}
	steps = append(steps, Step{
		Comment: "Full sync on a schedule: the OIDC token proves the caller to sync.",
		Args:    append([]string{"scheduler", "jobs", "create", "http"}, job...),
		Exists:  []string{"scheduler", "jobs", "describe", SchedulerJob, "--location=" + s.Region, p},
		Update:  append([]string{"scheduler", "jobs", "update", "http"}, job...),
	})
	steps = append(steps, Step{Comment: strings.Join([]string{
		"Then point Twilio and Strapi at the functions:",
		"  Frontline > Manage > Callbacks: CRM callback URL " + cfg.PublicURL("crm") +
			", outgoing conversations callback URL " + cfg.PublicURL("outgoing"),
		"  Frontline > Manage > Routing > custom routing URL " + cfg.PublicURL("routing"),
		"  Conversations > Manage > Global webhooks (POST): pre-event URL " + cfg.PublicURL("pre-event") +
			" for " + strings.Join(PreEventFilters, ", "),
		"    and post-event URL " + cfg.PublicURL("post-event") + " for " + strings.Join(PostEventFilters, ", "),
		"  Strapi > Settings > Webhooks: URL " + cfg.PublicURL("sync") + ", events " + strings.Join(StrapiEvents, ", ") + ",",
		"    header Authorization: Bearer <value of secret " + SecretID("STRAPI_WEBHOOK_SECRET") + ">",
	}, "\n")})
	return steps, nil
}

// indexStep creates ix on collection (the configured one: the file's
// collectionGroup names the default). __name__ is passed on as listed.
func indexStep(ix Index, collection, db, project string) Step {
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

func function(name string) (Function, bool) {
	for _, f := range Functions {
		if f.Name == name {
			return f, true
		}
	}
	return Function{}, false
}

func seconds(f Function) string {
	return strconv.Itoa(int(f.Timeout.Seconds())) + "s"
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
