// Package deployment describes how Expert Hub runs on Google Cloud: the
// description, deployment.json (Description), lists the functions, their
// identities and settings, the variables and secrets they get, the Cloud
// Tasks queue and the sync schedule, and how the names of one environment
// are made (eh-<environment>-<name>); internal/fsstore/indexes.json lists
// the Firestore indexes. Both deploy paths read the same two files: the
// gcloud plan (internal/gcloudplan) and Terraform (terraform/). The module
// root's deploy_test.go checks them against the registered entry points and
// config.Vars.
package deployment

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/experthub/experthub/internal/function"
	"github.com/experthub/experthub/internal/taskqueue/engine"
)

// DescriptionFile is the deployment description, relative to the module
// root. The gcloud path embeds it; terraform/deployment reads it with
// jsondecode(file(...)). What is deployed is changed there, once.
const DescriptionFile = "internal/deployment/deployment.json"

//go:embed deployment.json
var descriptionJSON []byte

// Description is what Expert Hub deploys: the file DescriptionFile, a JSON
// object with these members (unknown members are an error):
//
//	runtime            Cloud Functions runtime; must match go.mod's go directive.
//	naming             {prefix, environment_pattern, labels}: how the names
//	                   of one environment are made (ForEnvironment). The
//	                   names below are the last part of <prefix>-<environment>-<name>.
//	apis               services a fresh project needs.
//	service_accounts   key → {id, display_name}; other members name accounts by key.
//	project_roles      key → {account, role, why, condition}: project-wide
//	                   grants; condition {title, expression} narrows one
//	                   with an IAM condition (no comma: gcloud's
//	                   --condition flag is comma-separated).
//	deployer_acts_as   accounts the deploying identity (Cloud Build's)
//	                   gets roles/iam.serviceAccountUser on, each on the
//	                   account, never project-wide.
//	promotion          {bucket, writer_role, reader_role}: the bucket of
//	                   the "passed" marks (<prefix>-<environment>-<bucket>
//	                   after the project id); only the main-branch trigger's
//	                   account gets writer_role on it, the next
//	                   environment's trigger reader_role.
//	function_defaults  settings every function has unless it says otherwise.
//	functions          [{name, account, memory, cpu, concurrency, timeout_seconds,
//	                   min_instances, max_instances, public, invokers}], in the
//	                   order the README lists them. name is the function name
//	                   and its entry point; account is the key of the
//	                   identity it runs as; public grants allUsers
//	                   roles/run.invoker; invokers are accounts granted it too.
//	env                variable → {from, functions}: variables deploy sets
//	                   itself. from is "project", "account:KEY" (its e-mail)
//	                   or "queue:KEY" (its full name); functions limits them
//	                   to those functions (default: all).
//	secrets            [{env, secret, wired_when: {set, unset}, functions}]: the
//	                   Secret Manager secret holding a variable. A secret with
//	                   wired_when is given to the functions only when the
//	                   variables in set are non-empty and those in unset
//	                   empty; functions limits it to those functions
//	                   (default: all). An account may read exactly the
//	                   secrets given to the functions that run as it.
//	queues             key → {name, target, oidc_account, enqueuers,
//	                   rate_limits, retry_config}: Cloud Tasks queues in the
//	                   functions' region. enqueuers get roles/cloudtasks.enqueuer
//	                   and roles/cloudtasks.taskDeleter (a task whose work
//	                   was done at once is deleted) on the queue and
//	                   roles/iam.serviceAccountUser on
//	                   oidc_account, the identity tasks call target as.
//	full_sync          {job, function, account}: the Cloud Scheduler job.
//	line_sweep         {job, function, account, schedule}: the Cloud
//	                   Scheduler job sweeping the waiting line.
//	taskrouter_events  the TaskRouter workspace events the event callback
//	                   needs (README "Twilio settings").
//	pre_event_filters, post_event_filters, strapi_events: what Twilio and
//	                   Strapi must send (README "Twilio settings").
type Description struct {
	Runtime          string                    `json:"runtime"`
	Naming           Naming                    `json:"naming"`
	APIs             []string                  `json:"apis"`
	ServiceAccounts  map[string]ServiceAccount `json:"service_accounts"`
	ProjectRoles     map[string]ProjectRole    `json:"project_roles"`
	DeployerActsAs   []string                  `json:"deployer_acts_as"`
	Promotion        Promotion                 `json:"promotion"`
	Env              map[string]OwnedVar       `json:"env"`
	Secrets          []Secret                  `json:"secrets"`
	Queues           map[string]Queue          `json:"queues"`
	FullSync         FullSync                  `json:"full_sync"`
	LineSweep        LineSweep                 `json:"line_sweep"`
	TaskRouterEvents []string                  `json:"taskrouter_events"`
	PreEventFilters  []string                  `json:"pre_event_filters"`
	PostEventFilters []string                  `json:"post_event_filters"`
	StrapiEvents     []string                  `json:"strapi_events"`
	Functions        []Function                `json:"-"` // function_defaults applied
	// Environment is the environment the names are those of; "" in the
	// description as written (Load), set by ForEnvironment.
	Environment string `json:"-"`
}

// Naming is how the unique names of one environment are made: every
// service account id, secret, function, queue and scheduler job named in
// the description becomes Prefix-<environment>-<name>, so that two
// environments (staging and production) can live side by side in one
// project. Terraform (terraform/deployment) applies the same rule.
type Naming struct {
	Comment            string            `json:"$comment"`
	Prefix             string            `json:"prefix"`
	EnvironmentPattern string            `json:"environment_pattern"`
	Labels             map[string]string `json:"labels"` // environment is added
}

// descriptionFile is the JSON form of a Description.
type descriptionFile struct {
	Description
	Comment          string            `json:"$comment"`
	FunctionDefaults json.RawMessage   `json:"function_defaults"`
	Functions        []json.RawMessage `json:"functions"`
}

// ServiceAccount is an identity the deployment creates.
type ServiceAccount struct {
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
}

// ProjectRole grants Role on the project to the account keyed Account,
// only where Condition holds when it is set.
type ProjectRole struct {
	Account   string        `json:"account"`
	Role      string        `json:"role"`
	Why       string        `json:"why"`
	Condition *IAMCondition `json:"condition"`
}

// IAMCondition is an IAM condition (CEL): https://cloud.google.com/iam/docs/conditions-overview.
type IAMCondition struct {
	Title      string `json:"title"`
	Expression string `json:"expression"`
}

// Promotion is where an environment records the commits that passed it:
// a bucket only the main-branch trigger's account may write (WriterRole)
// and the next environment's trigger may read (ReaderRole).
type Promotion struct {
	Bucket     string `json:"bucket"`
	WriterRole string `json:"writer_role"`
	ReaderRole string `json:"reader_role"`
}

// Function is how one entry point is deployed.
type Function struct {
	Name function.Name `json:"name"`
	// Deployed is the Cloud Functions name in an environment
	// (ForEnvironment): <prefix>-<environment>-<name>; its URL ends in
	// /<Deployed>, which both deploy paths give the function as
	// PUBLIC_URL_<FUNCTION>. The entry point stays Name.
	Deployed       string   `json:"-"`
	Account        string   `json:"account"`     // key of the service account it runs as
	Memory         string   `json:"memory"`      // e.g. "512Mi"
	CPU            string   `json:"cpu"`         // vCPUs; concurrency above 1 needs at least 1
	Concurrency    int      `json:"concurrency"` // requests one instance serves at once
	TimeoutSeconds int      `json:"timeout_seconds"`
	MinInstances   int      `json:"min_instances"` // 1 keeps an instance warm: Twilio gives up after 5 s
	MaxInstances   int      `json:"max_instances"`
	Public         bool     `json:"public"`   // allUsers may invoke it
	Invokers       []string `json:"invokers"` // service account keys that may invoke it
}

// OwnedVar is a variable deploy sets: From names its value, Functions the
// functions that get it (all when empty).
type OwnedVar struct {
	From      string          `json:"from"`
	Functions []function.Name `json:"functions"`
}

// Secret is a secret variable and the Secret Manager secret holding it.
type Secret struct {
	Env       string     `json:"env"`
	Secret    string     `json:"secret"`
	WiredWhen *Condition `json:"wired_when"`
	// Functions are the functions given the secret (all when empty):
	// IAM grants a secret to the account a function runs as, so a
	// secret only some functions read stays out of the others' reach
	// only if they run as another account.
	Functions []function.Name `json:"functions"`
}

// Condition holds when every variable of Set is non-empty and every
// variable of Unset is empty.
type Condition struct {
	Set   []string `json:"set"`
	Unset []string `json:"unset"`
}

// Queue is a Cloud Tasks queue whose tasks call the function Target with an
// OIDC token of OIDCAccount; Enqueuers may add tasks.
type Queue struct {
	Name        string        `json:"name"`
	Target      function.Name `json:"target"`
	OIDCAccount string        `json:"oidc_account"`
	Enqueuers   []string      `json:"enqueuers"`
	RateLimits  RateLimits    `json:"rate_limits"`
	RetryConfig RetryConfig   `json:"retry_config"`
}

// RateLimits are a queue's dispatch limits (Cloud Tasks RateLimits).
type RateLimits struct {
	MaxDispatchesPerSecond  float64 `json:"max_dispatches_per_second"`
	MaxConcurrentDispatches int     `json:"max_concurrent_dispatches"`
}

// RetryConfig is a queue's retry policy (Cloud Tasks RetryConfig);
// durations are seconds with an "s" suffix, as both gcloud and Terraform
// take them.
type RetryConfig struct {
	MaxAttempts      int    `json:"max_attempts"`
	MaxRetryDuration string `json:"max_retry_duration"`
	MinBackoff       string `json:"min_backoff"`
	MaxBackoff       string `json:"max_backoff"`
	MaxDoublings     int    `json:"max_doublings"`
}

// FullSync is the Cloud Scheduler job that calls Function with an OIDC
// token of Account.
type FullSync struct {
	Job      string        `json:"job"`
	Function function.Name `json:"function"`
	Account  string        `json:"account"`
}

// LineSweep is the Cloud Scheduler job that calls Function on Schedule
// (cron) with an OIDC token of Account, minted for Function's URL.
type LineSweep struct {
	Job      string        `json:"job"`
	Function function.Name `json:"function"`
	Account  string        `json:"account"`
	Schedule string        `json:"schedule"`
}

// Keys of the service accounts every deployment refers to by role: the
// functions' identity (unless a function names another) and the builds'.
const (
	RunAccount   = "run"
	BuildAccount = "build"
)

// Load returns the embedded description. It is parsed on each call, so
// callers may change what they get.
func Load() (*Description, error) {
	return ParseDescription(descriptionJSON)
}

// ParseDescription parses and checks a description in the format of
// DescriptionFile.
func ParseDescription(b []byte) (*Description, error) {
	var file descriptionFile
	if err := strictUnmarshal(b, &file); err != nil {
		return nil, fmt.Errorf("deployment: %s: %w", DescriptionFile, err)
	}
	d := file.Description
	var defaults Function
	if err := strictUnmarshal(file.FunctionDefaults, &defaults); err != nil {
		return nil, fmt.Errorf("deployment: %s: function_defaults: %w", DescriptionFile, err)
	}
	if defaults.Name != "" {
		return nil, fmt.Errorf("deployment: %s: function_defaults has a name", DescriptionFile)
	}
	for i, raw := range file.Functions {
		f := defaults
		f.Invokers = slices.Clone(defaults.Invokers)
		if err := strictUnmarshal(raw, &f); err != nil {
			return nil, fmt.Errorf("deployment: %s: functions[%d]: %w", DescriptionFile, i, err)
		}
		d.Functions = append(d.Functions, f)
	}
	if problems := d.check(); len(problems) > 0 {
		return nil, fmt.Errorf("deployment: %s:\n  %s", DescriptionFile, strings.Join(problems, "\n  "))
	}
	return &d, nil
}

func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON value")
	}
	return nil
}

var (
	functionName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
	accountID    = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	resourceID   = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	durationText = regexp.MustCompile(`^[0-9]+s$`)
	memoryText   = regexp.MustCompile(`^[0-9]+(Mi|Gi)$`)
)

// check names every reference to something the description does not
// declare and every value the deploy paths would refuse.
func (d *Description) check() []string {
	c := &checker{d: d}
	if d.Runtime == "" || len(d.APIs) == 0 || len(d.Functions) == 0 {
		c.fail("runtime, apis and functions are required")
	}
	c.naming()
	for key, r := range d.ProjectRoles {
		c.account("project_roles."+key, r.Account)
		if !strings.HasPrefix(r.Role, "roles/") {
			c.fail("project_roles.%s: %q is not a role", key, r.Role)
		}
		if k := r.Condition; k != nil && (k.Title == "" || k.Expression == "" || strings.Contains(k.Title+k.Expression, ",")) {
			c.fail("project_roles.%s: a condition needs a title and an expression, without commas", key)
		}
	}
	for _, a := range d.DeployerActsAs {
		c.account("deployer_acts_as", a)
	}
	if p := d.Promotion; !resourceID.MatchString(p.Bucket) || !strings.HasPrefix(p.WriterRole, "roles/") || !strings.HasPrefix(p.ReaderRole, "roles/") {
		c.fail("promotion: needs a bucket name, writer_role and reader_role")
	}
	c.functions()
	c.env()
	c.secrets()
	c.queues()
	c.function("full_sync.function", d.FullSync.Function)
	c.account("full_sync.account", d.FullSync.Account)
	c.function("line_sweep.function", d.LineSweep.Function)
	c.account("line_sweep.account", d.LineSweep.Account)
	if d.LineSweep.Job == "" || d.LineSweep.Schedule == "" {
		c.fail("line_sweep: job and schedule are required")
	}
	c.account("the functions' identity", RunAccount)
	c.account("the builds' identity", BuildAccount)
	sort.Strings(c.problems)
	return c.problems
}

type checker struct {
	d        *Description
	problems []string
}

func (c *checker) fail(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

func (c *checker) account(where, key string) {
	if _, ok := c.d.ServiceAccounts[key]; !ok {
		c.fail("%s: no service account %q", where, key)
	}
}

func (c *checker) function(where string, name function.Name) {
	if _, ok := c.d.Function(name); !ok {
		c.fail("%s: no function %q", where, name)
	}
}

func (c *checker) functions() {
	seen := map[function.Name]bool{}
	for _, f := range c.d.Functions {
		where := "functions." + string(f.Name)
		if !functionName.MatchString(string(f.Name)) || seen[f.Name] {
			c.fail("functions: %q is not a function name, or is listed twice", f.Name)
		}
		seen[f.Name] = true
		cpu, err := strconv.ParseFloat(f.CPU, 64)
		switch {
		case !memoryText.MatchString(f.Memory):
			c.fail("%s: memory %q is not like 512Mi or 1Gi", where, f.Memory)
		case err != nil || cpu <= 0:
			c.fail("%s: cpu %q is not a number of vCPUs", where, f.CPU)
		case f.Concurrency < 1 || f.Concurrency > 1000 || f.Concurrency > 1 && cpu < 1:
			c.fail("%s: concurrency %d must be 1-1000, and above 1 needs cpu >= 1", where, f.Concurrency)
		case f.TimeoutSeconds < 1 || f.TimeoutSeconds > 3600:
			c.fail("%s: timeout_seconds %d is not 1-3600", where, f.TimeoutSeconds)
		case f.MinInstances < 0 || f.MaxInstances < 1 || f.MinInstances > f.MaxInstances:
			c.fail("%s: min_instances %d and max_instances %d do not make a range", where, f.MinInstances, f.MaxInstances)
		}
		for _, a := range f.Invokers {
			c.account(where+".invokers", a)
		}
		c.account(where+".account", f.Account)
	}
}

func (c *checker) env() {
	for name, v := range c.d.Env {
		if v.Functions != nil && len(v.Functions) == 0 {
			// Terraform would read [] as no function at all.
			c.fail("env.%s: functions is empty; leave it out to mean every function", name)
		}
		for _, f := range v.Functions {
			c.function("env."+name, f)
		}
		kind, key, _ := strings.Cut(v.From, ":")
		switch kind {
		case "project":
		case "account":
			c.account("env."+name, key)
		case "queue":
			if _, ok := c.d.Queues[key]; !ok {
				c.fail("env.%s: no queue %q", name, key)
			}
		default:
			c.fail("env.%s: from %q is not project, account:KEY or queue:KEY", name, v.From)
		}
	}
}

func (c *checker) secrets() {
	secretVars := map[string]bool{}
	for _, s := range c.d.Secrets {
		if !resourceID.MatchString(s.Secret) || secretVars[s.Env] {
			c.fail("secrets: %s: %q is not a secret id, or the variable is listed twice", s.Env, s.Secret)
		}
		secretVars[s.Env] = true
		if s.Functions != nil && len(s.Functions) == 0 {
			// Terraform would read [] as no function at all.
			c.fail("secrets: %s: functions is empty; leave it out to mean every function", s.Env)
		}
		for _, f := range s.Functions {
			c.function("secrets."+s.Env, f)
		}
	}
	for _, s := range c.d.Secrets {
		if s.WiredWhen == nil {
			continue
		}
		for _, name := range append(slices.Clone(s.WiredWhen.Set), s.WiredWhen.Unset...) {
			if secretVars[name] {
				c.fail("secrets: %s: wired_when names secret %s; only plain settings are known when deploying", s.Env, name)
			}
		}
	}
}

func (c *checker) queues() {
	for key, q := range c.d.Queues {
		where := "queues." + key
		c.function(where+".target", q.Target)
		c.account(where+".oidc_account", q.OIDCAccount)
		for _, a := range q.Enqueuers {
			c.account(where+".enqueuers", a)
		}
		if f, ok := c.d.Function(q.Target); ok && !slices.Contains(f.Invokers, q.OIDCAccount) {
			c.fail("%s: target %s does not list oidc_account %s among its invokers", where, q.Target, q.OIDCAccount)
		}
		r := q.RetryConfig
		if !resourceID.MatchString(q.Name) || q.RateLimits.MaxDispatchesPerSecond <= 0 || q.RateLimits.MaxConcurrentDispatches < 1 ||
			!durationText.MatchString(r.MaxRetryDuration) || !durationText.MatchString(r.MinBackoff) || !durationText.MatchString(r.MaxBackoff) {
			c.fail("%s: needs a queue id, positive rate limits and durations like 30s", where)
		}
	}
}

// Dispatch returns the queue's retry policy and rate limits as the Cloud
// Tasks fakes take them (package taskqueue/engine): the local queue-fake and the
// tests and benchmarks that run as deployed use the deployed queue's.
func (q Queue) Dispatch() (engine.RetryConfig, engine.RateLimits, error) {
	r := q.RetryConfig
	var ds [3]time.Duration
	for i, v := range []string{r.MaxRetryDuration, r.MinBackoff, r.MaxBackoff} {
		d, err := time.ParseDuration(v)
		if err != nil {
			return engine.RetryConfig{}, engine.RateLimits{}, fmt.Errorf("deployment: queue %s: %w", q.Name, err)
		}
		ds[i] = d
	}
	return engine.RetryConfig{
			MaxAttempts: r.MaxAttempts, MaxRetryDuration: ds[0], MinBackoff: ds[1], MaxBackoff: ds[2], MaxDoublings: r.MaxDoublings,
		}, engine.RateLimits{
			MaxDispatchesPerSecond: q.RateLimits.MaxDispatchesPerSecond, MaxConcurrentDispatches: q.RateLimits.MaxConcurrentDispatches,
		}, nil
}

// Function returns how function name is deployed.
func (d *Description) Function(name function.Name) (Function, bool) {
	for _, f := range d.Functions {
		if f.Name == name {
			return f, true
		}
	}
	return Function{}, false
}

// FunctionNames returns the names of the functions, in the file's order.
func (d *Description) FunctionNames() []function.Name {
	names := make([]function.Name, len(d.Functions))
	for i, f := range d.Functions {
		names[i] = f.Name
	}
	return names
}

// SecretVars returns the variables Secret Manager delivers, in the file's
// order. They are never set as plain environment variables.
func (d *Description) SecretVars() []string {
	names := make([]string, len(d.Secrets))
	for i, s := range d.Secrets {
		names[i] = s.Env
	}
	return names
}

// SecretID names the Secret Manager secret holding variable name, or ""
// when name is not a secret variable.
func (d *Description) SecretID(name string) string {
	for _, s := range d.Secrets {
		if s.Env == name {
			return s.Secret
		}
	}
	return ""
}

// WiredSecrets returns the secret variables the functions read given the
// plain settings env. An optional secret is wired only when its setting is
// in use: Cloud Run refuses to start a revision whose secret has no version,
// and config rejects e.g. an API secret without its key.
func (d *Description) WiredSecrets(env map[string]string) []string {
	var names []string
	for _, s := range d.Secrets {
		if s.WiredWhen.holds(env) {
			names = append(names, s.Env)
		}
	}
	return names
}

// FunctionSecrets returns the secret variables of wired (WiredSecrets)
// that function fn is given.
func (d *Description) FunctionSecrets(fn function.Name, wired []string) []string {
	var names []string
	for _, s := range d.Secrets {
		if slices.Contains(wired, s.Env) && (len(s.Functions) == 0 || slices.Contains(s.Functions, fn)) {
			names = append(names, s.Env)
		}
	}
	return names
}

// AccountSecrets returns the secret variables of wired the service account
// keyed account may read: those given to the functions that run as it.
func (d *Description) AccountSecrets(account string, wired []string) []string {
	var names []string
	for _, s := range d.Secrets {
		for _, f := range d.Functions {
			if f.Account == account && slices.Contains(d.FunctionSecrets(f.Name, wired), s.Env) {
				names = append(names, s.Env)
				break
			}
		}
	}
	return names
}

func (c *Condition) holds(env map[string]string) bool {
	if c == nil {
		return true
	}
	for _, name := range c.Set {
		if env[name] == "" {
			return false
		}
	}
	for _, name := range c.Unset {
		if env[name] != "" {
			return false
		}
	}
	return true
}

// OwnedEnv returns the variables deploy sets on function fn, resolved for
// project and region.
func (d *Description) OwnedEnv(fn function.Name, project, region string) map[string]string {
	env := map[string]string{}
	for name, v := range d.Env {
		if len(v.Functions) == 0 || slices.Contains(v.Functions, fn) {
			env[name] = d.value(v.From, project, region)
		}
	}
	return env
}

// value resolves an OwnedVar's From (checked by ParseDescription).
func (d *Description) value(from, project, region string) string {
	kind, key, _ := strings.Cut(from, ":")
	switch kind {
	case "account":
		return accountEmail(d.ServiceAccounts[key].ID, project)
	case "queue":
		return queuePath(project, region, d.Queues[key].Name)
	default:
		return project
	}
}

// AccountEmail is the e-mail of the service account keyed key in project.
func (d *Description) AccountEmail(key, project string) string {
	return accountEmail(d.ServiceAccounts[key].ID, project)
}

func accountEmail(id, project string) string {
	return id + "@" + project + ".iam.gserviceaccount.com"
}

// queuePath is the full name of a Cloud Tasks queue, the form WORK_QUEUE
// takes.
func queuePath(project, region, queue string) string {
	return "projects/" + project + "/locations/" + region + "/queues/" + queue
}
