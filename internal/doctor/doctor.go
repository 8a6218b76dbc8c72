// Package doctor checks a running Expert Hub end to end (`experthub
// doctor`): Twilio's configuration against the functions' public URLs,
// each function's answer to a signed and an unsigned probe, the CRM,
// Firestore, the secrets and the last full sync. It prints one line per
// check, ok, warn or FAIL, and never a secret or a full phone number.
//
// The most dangerous misconfiguration it catches is silent: when the
// Conversations webhook URLs differ from the URLs the functions check
// signatures against (PUBLIC_BASE_URL, PUBLIC_URL_<FUNCTION>), pre-event
// answers 403 to every message and Twilio drops them all.
package doctor

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/crmsync"
	"github.com/experthub/experthub/internal/deployment"
	"github.com/experthub/experthub/internal/function"
	"github.com/experthub/experthub/internal/logging"
	"github.com/experthub/experthub/internal/twilio"
)

// Status is a check's outcome.
type Status int

// The outcomes, in increasing gravity.
const (
	OK Status = iota
	Warn
	Fail
)

func (s Status) String() string {
	switch s {
	case OK:
		return "ok"
	case Warn:
		return "warn"
	}
	return "FAIL"
}

// Result is one check's line.
type Result struct {
	Check  string
	Status Status
	Detail string
}

// UserAgent is the User-Agent of the probes, so their log lines can be
// told from Twilio's.
const UserAgent = "experthub-doctor"

// SyncMaxAge is how old the last completed full sync may be: the
// scheduler's default runs it daily (terraform sync_schedule, deploy
// --schedule), plus two hours of slack. The alert "no successful full
// sync" uses the same 26 hours.
const SyncMaxAge = 26 * time.Hour

// Twilio is what the doctor reads from Twilio; *twilio.Client has it.
type Twilio interface {
	ConversationsWebhooks(ctx context.Context) (twilio.ConversationsWebhooks, error)
	FetchWorkspace(ctx context.Context, sid string) (twilio.Workspace, error)
	FetchTaskQueue(ctx context.Context, workspace, sid string) (twilio.TaskQueue, error)
	CountWorkers(ctx context.Context, workspace string) (total, available int, err error)
	FetchFrontlineUser(ctx context.Context, identity string) (twilio.User, error)
	FetchContentApproval(ctx context.Context, sid string) (twilio.ContentApproval, error)
}

// CRM is the check of the CRM behind the cache, which the CRM's package
// provides (*strapi.Client has it).
type CRM interface {
	// Check reads the CRM once. It returns what it found and whether that
	// is the whole check (false: some of it cannot be checked from here,
	// a warning); an error is a failure, and says what failed. webhookURL
	// is the sync function's, where the CRM's webhooks must point.
	Check(ctx context.Context, webhookURL string) (found string, complete bool, err error)
}

// Admin reads Google Cloud's control plane: the Firestore admin API and
// Secret Manager. It never reads a secret's value.
type Admin interface {
	// Indexes returns the composite indexes of a collection group.
	Indexes(ctx context.Context, collectionGroup string) ([]Index, error)
	// TTLState returns the state of the TTL policy on a field ("ACTIVE",
	// "CREATING", …), or "" when there is none.
	TTLState(ctx context.Context, collectionGroup, field string) (string, error)
	// SecretEnabled reports whether the secret's latest version exists
	// and is enabled.
	SecretEnabled(ctx context.Context, secret string) (bool, error)
}

// Index is a composite index as the admin API reports it.
type Index struct {
	Fields []deployment.IndexField
	State  string // READY, CREATING, NEEDS_REPAIR
}

// Doctor runs the checks. Nil dependencies are reported as not checked.
type Doctor struct {
	Config    *config.Config
	Functions []function.Name
	Twilio    Twilio // nil without Twilio credentials
	CRM       CRM    // nil without a CRM configured, or without its credentials
	// CRMUnchecked is the CRM's URL when it is configured but its
	// credentials are not in the doctor's environment (a build reads only
	// the Twilio token; config.CRM.Unchecked): the CRM is then reported
	// as not checked.
	CRMUnchecked string
	// Flex reads the contact center's account; nil without one.
	// FlexUnchecked is its account SID when it is configured but its
	// credentials are not in the doctor's environment (a build): it is
	// then reported as not checked.
	Flex          FlexTwilio
	FlexUnchecked string
	Store         crm.Store
	Templates     crm.TemplateStore // nil without Firestore
	Admin         Admin             // nil on the emulator or the in-memory store
	HTTP          *http.Client
	Now           func() time.Time
	// Indexes and TTLFields are what Firestore must have
	// (internal/fsstore/indexes.json).
	Indexes   []deployment.Index
	TTLFields []deployment.TTLField
	// Secrets are the secrets the deployment wires: checked by name in
	// Secret Manager with Admin, else by variable in Config.
	Secrets []deployment.Secret
	// PreFilters and PostFilters are the webhook filters the deployment
	// description requires.
	PreFilters, PostFilters []string
	Log                     *slog.Logger
}

// Run runs every check, prints a line for each to out and reports whether
// any failed.
func (d *Doctor) Run(ctx context.Context, out io.Writer) (failed bool) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.HTTP == nil {
		d.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	var results []Result
	add := func(rs ...Result) {
		for _, r := range rs {
			results = append(results, r)
			fmt.Fprintln(out, d.line(r))
			failed = failed || r.Status == Fail
		}
	}
	add(d.twilioChecks(ctx)...)
	add(d.flexChecks(ctx)...)
	add(d.whatsAppTemplateCheck(ctx)...)
	add(d.probes(ctx)...)
	add(d.crmCheck(ctx))
	add(d.firestoreChecks(ctx)...)
	add(d.secretsCheck(ctx))
	add(d.syncCheck(ctx))
	add(d.advisorsCheck(ctx))
	add(d.templatesCheck(ctx)...)
	n := map[Status]int{}
	for _, r := range results {
		n[r.Status]++
	}
	fmt.Fprintf(out, "%d ok, %d warn, %d FAIL\n", n[OK], n[Warn], n[Fail])
	return failed
}

// line renders a result without any configured secret value or full
// phone number, whatever an error message carried.
func (d *Doctor) line(r Result) string {
	s := fmt.Sprintf("%-4s  %-28s %s", r.Status, r.Check, r.Detail)
	c := d.Config
	secrets := []string{c.TwilioAuthToken, c.TwilioAPISecret, c.TasksSecret, c.FlexAuthToken, c.FlexAPISecret, c.HandoffSecret}
	crmValues := c.CRM.Values()
	for _, v := range config.Vars {
		if v.Secret {
			secrets = append(secrets, crmValues[v.Name])
		}
	}
	for _, secret := range secrets {
		if len(secret) >= 4 {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return logging.MaskPhones(s)
}

func (d *Doctor) twilioChecks(ctx context.Context) []Result {
	if d.Twilio == nil {
		return []Result{{"twilio credentials", Fail, "not set: TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are required (without them the functions run the sandbox)"}}
	}
	cfg := d.Config
	hooks, err := d.Twilio.ConversationsWebhooks(ctx)
	if err != nil {
		return []Result{{"twilio credentials", Fail, describe(err)}}
	}
	out := []Result{{"twilio credentials", OK, "accepted (account " + shortSID(cfg.TwilioAccountSID) + ")"}}
	out = append(out, d.workspaceChecks(ctx)...)
	out = append(out, d.webhookCheck(hooks))
	return out
}

func (d *Doctor) workspaceChecks(ctx context.Context) []Result {
	cfg := d.Config
	var out []Result
	ws, err := d.Twilio.FetchWorkspace(ctx, cfg.Workspace)
	if err != nil {
		return append(out, Result{"twilio workspace", Fail, cfg.Workspace + ": " + describe(err)})
	}
	out = append(out, Result{"twilio workspace", OK, fmt.Sprintf("%s (%s)", ws.SID, ws.FriendlyName)})
	switch {
	case cfg.PoolQueue == "":
		out = append(out, Result{"twilio pool queue", Warn, "FRONTLINE_DEFAULT_POOL_QUEUE is not set: \"agent\" picks from the whole workspace"})
	default:
		q, err := d.Twilio.FetchTaskQueue(ctx, cfg.Workspace, cfg.PoolQueue)
		if err != nil {
			out = append(out, Result{"twilio pool queue", Fail, cfg.PoolQueue + ": " + describe(err)})
		} else {
			out = append(out, Result{"twilio pool queue", OK, fmt.Sprintf("%s (%s)", q.SID, q.FriendlyName)})
		}
	}
	total, available, err := d.Twilio.CountWorkers(ctx, cfg.Workspace)
	switch {
	case err != nil:
		out = append(out, Result{"twilio workers", Fail, describe(err)})
	case total == 0:
		out = append(out, Result{"twilio workers", Fail, "the workspace has no worker: nobody can take a conversation"})
	case available == 0:
		out = append(out, Result{"twilio workers", Warn, fmt.Sprintf("%d worker(s), none available now", total)})
	default:
		out = append(out, Result{"twilio workers", OK, fmt.Sprintf("%d worker(s), %d available", total, available)})
	}
	if slices.Contains(d.Functions, function.TaskRouterEvents) {
		out = append(out, eventCallbackCheck("twilio event callback", ws.EventCallbackURL, cfg.PublicURL(function.TaskRouterEvents),
			"the waiting line gets no TaskRouter events (experthub setup twilio)", " (experthub setup twilio --take-event-callback)"))
	}
	return out
}

// eventCallbackCheck compares a TaskRouter workspace's event callback
// with the URL of the function that takes its events: unset says what is
// lost (unsetEffect), someone else's says how to take it over (takeHint,
// appended).
func eventCallbackCheck(name, have, want, unsetEffect, takeHint string) Result {
	switch have {
	case want:
		return Result{name, OK, want}
	case "":
		return Result{name, Fail, "not set: " + unsetEffect}
	}
	return Result{name, Fail, fmt.Sprintf("%s, not %s", have, want) + takeHint}
}

// webhookCheck compares the Conversations webhooks with the URLs the
// functions sign-check: any difference makes Twilio's calls fail.
func (d *Doctor) webhookCheck(h twilio.ConversationsWebhooks) Result {
	cfg := d.Config
	var problems, notes []string
	for _, u := range []struct {
		name       function.Name
		have, want string
	}{
		{function.PreEvent, h.PreWebhookURL, cfg.PublicURL(function.PreEvent)},
		{function.PostEvent, h.PostWebhookURL, cfg.PublicURL(function.PostEvent)},
	} {
		if u.have != u.want {
			problems = append(problems, fmt.Sprintf("%s URL is %s, the function expects %s", u.name, show(u.have), u.want))
		}
	}
	if h.Method != "POST" {
		problems = append(problems, "method is "+show(h.Method)+", not POST")
	}
	if h.Target != "webhook" {
		problems = append(problems, "target is "+show(h.Target)+", not webhook")
	}
	for _, f := range slices.Concat(d.PreFilters, d.PostFilters) {
		if !slices.Contains(h.Filters, f) {
			problems = append(problems, "filter "+f+" missing")
		}
	}
	for _, f := range h.Filters {
		if !slices.Contains(d.PreFilters, f) && !slices.Contains(d.PostFilters, f) {
			notes = append(notes, "filter "+f+" is not needed")
		}
	}
	switch {
	case len(problems) > 0:
		return Result{"conversations webhooks", Fail, strings.Join(problems, "; ") +
			" — Twilio's calls fail (403, 405) and customer messages are dropped; run experthub setup twilio"}
	case len(notes) > 0:
		return Result{"conversations webhooks", Warn, strings.Join(notes, "; ")}
	}
	return Result{"conversations webhooks", OK, "pre " + h.PreWebhookURL + ", post " + h.PostWebhookURL + ", POST, " + strings.Join(h.Filters, ",")}
}

func (d *Doctor) crmCheck(ctx context.Context) Result {
	switch {
	case d.CRMUnchecked != "":
		return Result{"crm", Warn, d.CRMUnchecked + ": not checked, its credentials are not in this environment"}
	case d.CRM == nil:
		return Result{"crm", Warn, "none configured: no CRM behind the cache"}
	}
	found, complete, err := d.CRM.Check(ctx, d.Config.PublicURL(function.Sync))
	switch {
	case err != nil:
		return Result{"crm", Fail, err.Error()}
	case !complete:
		return Result{"crm", Warn, found}
	}
	return Result{"crm", OK, found}
}

func (d *Doctor) firestoreChecks(ctx context.Context) []Result {
	cfg := d.Config
	if !cfg.UsesFirestore() {
		return []Result{{"firestore", Warn, "not used: the cache is in memory (GOOGLE_CLOUD_PROJECT is not set)"}}
	}
	where := "project " + cfg.Project + ", database " + cfg.FirestoreDatabase
	if cfg.FirestoreEmulator != "" {
		where = "emulator " + cfg.FirestoreEmulator + ", " + where
	}
	if _, err := d.Store.SyncState(ctx); err != nil {
		return []Result{{"firestore", Fail, where + ": " + err.Error()}}
	}
	out := []Result{{"firestore", OK, "reachable (" + where + ")"}}
	if d.Admin == nil {
		why := "skipped (emulator): the emulator has no admin API"
		if cfg.FirestoreEmulator == "" {
			why = "skipped: no admin API client"
		}
		return append(out, Result{"firestore indexes", Warn, why}, Result{"firestore ttl policies", Warn, why})
	}
	return append(out, d.indexCheck(ctx), d.ttlCheck(ctx))
}

func (d *Doctor) indexCheck(ctx context.Context) Result {
	var missing, building []string
	for _, want := range d.Indexes {
		have, err := d.Admin.Indexes(ctx, want.CollectionGroup)
		if err != nil {
			return Result{"firestore indexes", Fail, err.Error()}
		}
		i := slices.IndexFunc(have, func(ix Index) bool { return slices.Equal(ix.Fields, want.Fields) })
		switch {
		case i < 0:
			missing = append(missing, indexName(want))
		case have[i].State == "CREATING":
			building = append(building, indexName(want))
		case have[i].State != "READY":
			missing = append(missing, indexName(want)+" "+have[i].State)
		}
	}
	switch {
	case len(missing) > 0:
		return Result{"firestore indexes", Fail, "missing or broken: " + strings.Join(missing, "; ") + " (the crm list answers 503 without them)"}
	case len(building) > 0:
		return Result{"firestore indexes", Warn, "still CREATING: " + strings.Join(building, "; ") + " (the crm list answers 503 until they are)"}
	}
	return Result{"firestore indexes", OK, fmt.Sprintf("%d composite indexes READY", len(d.Indexes))}
}

func (d *Doctor) ttlCheck(ctx context.Context) Result {
	var bad, creating []string
	for _, f := range d.TTLFields {
		state, err := d.Admin.TTLState(ctx, f.CollectionGroup, f.FieldPath)
		if err != nil {
			return Result{"firestore ttl policies", Fail, err.Error()}
		}
		switch state {
		case "ACTIVE":
		case "CREATING":
			creating = append(creating, f.CollectionGroup+"."+f.FieldPath)
		default:
			bad = append(bad, fmt.Sprintf("%s.%s %s", f.CollectionGroup, f.FieldPath, show(state)))
		}
	}
	if len(creating) > 0 && len(bad) == 0 {
		return Result{"firestore ttl policies", Warn, "still being created: " + strings.Join(creating, ", ")}
	}
	if len(bad) > 0 {
		return Result{"firestore ttl policies", Fail, "not active: " + strings.Join(bad, "; ") + " (the ledger and claims grow forever)"}
	}
	return Result{"firestore ttl policies", OK, fmt.Sprintf("%d TTL policies active", len(d.TTLFields))}
}

func (d *Doctor) secretsCheck(ctx context.Context) Result {
	var names, missing []string
	for _, sec := range d.Secrets {
		if d.Admin == nil {
			names = append(names, sec.Env)
			if !d.localSecret(sec.Env) {
				missing = append(missing, sec.Env)
			}
			continue
		}
		names = append(names, sec.Secret)
		ok, err := d.Admin.SecretEnabled(ctx, sec.Secret)
		if err != nil {
			return Result{"secrets", Fail, sec.Secret + ": " + err.Error()}
		}
		if !ok {
			missing = append(missing, sec.Secret)
		}
	}
	switch {
	case len(missing) > 0 && d.Admin == nil:
		// The deployed functions read Secret Manager, not this shell.
		return Result{"secrets", Warn, "not set here: " + strings.Join(missing, ", ") + "; Secret Manager not checked"}
	case len(missing) > 0:
		return Result{"secrets", Fail, "no enabled version in Secret Manager: " + strings.Join(missing, ", ")}
	case d.Admin == nil:
		return Result{"secrets", OK, "set (names only): " + strings.Join(names, ", ") + "; Secret Manager not checked"}
	}
	return Result{"secrets", OK, "present in Secret Manager (names only): " + strings.Join(names, ", ")}
}

// localSecret reports whether a secret variable is set in the doctor's
// own configuration.
func (d *Doctor) localSecret(env string) bool {
	c := d.Config
	switch env {
	case "TWILIO_AUTH_TOKEN":
		return c.TwilioAuthToken != ""
	case "TWILIO_API_SECRET":
		return c.TwilioAPISecret != ""
	}
	return c.CRM.Values()[env] != ""
}

func (d *Doctor) syncCheck(ctx context.Context) Result {
	if d.CRM == nil && d.CRMUnchecked == "" {
		return Result{"last full sync", Warn, "no CRM: nothing is synced"}
	}
	if !d.Config.UsesFirestore() {
		return Result{"last full sync", Warn, "the in-memory cache keeps no sync state"}
	}
	st, err := d.Store.SyncState(ctx)
	switch {
	case err != nil:
		return Result{"last full sync", Fail, err.Error()}
	case st.RunStart.IsZero():
		// A fresh deployment: the scheduler's first run is ahead. The
		// alert "no successful full sync in 26 h" catches one that never
		// comes.
		return Result{"last full sync", Warn, "never yet: the scheduler job runs it, or run experthub sync"}
	}
	age := d.Now().Sub(st.RunStart).Round(time.Minute)
	switch {
	case !st.Done && age > SyncMaxAge:
		return Result{"last full sync", Fail, fmt.Sprintf("a run started %s ago never finished (limit %s)", age, SyncMaxAge)}
	case !st.Done:
		return Result{"last full sync", Warn, fmt.Sprintf("a run started %s ago is running or was interrupted", age)}
	case age > SyncMaxAge:
		return Result{"last full sync", Fail, fmt.Sprintf("the last completed run started %s ago (limit %s)", age, SyncMaxAge)}
	case st.Kept > 0:
		return Result{"last full sync", Warn, fmt.Sprintf("completed, started %s ago; it found no customer in Strapi and kept %d cached (guard); %s",
			age, st.Kept, crmsync.AllowEmptyHint)}
	}
	return Result{"last full sync", OK, fmt.Sprintf("completed, started %s ago", age)}
}

// templatesCheck reports the template cache, and the full sync's guard
// when it kept templates Strapi no longer has: the templates callback
// offers them until a webhook or `experthub sync --allow-empty` removes
// them. Without Firestore or a CRM there is no line ("last full sync"
// says why).
func (d *Doctor) templatesCheck(ctx context.Context) []Result {
	if d.Templates == nil || d.CRM == nil && d.CRMUnchecked == "" {
		return nil
	}
	st, err := d.Templates.TemplateSyncState(ctx)
	if err != nil {
		return []Result{{"templates", Fail, err.Error()}}
	}
	if st.Done && st.Kept > 0 {
		return []Result{{"templates", Warn, fmt.Sprintf("the last full sync found none in Strapi and kept %d cached (guard); %s",
			st.Kept, crmsync.AllowEmptyHint)}}
	}
	ts, err := d.Templates.Templates(ctx)
	switch {
	case err != nil:
		return []Result{{"templates", Fail, err.Error()}}
	case len(ts) == 0:
		return []Result{{"templates", OK, "none cached: the templates callback offers its built-in templates"}}
	}
	return []Result{{"templates", OK, fmt.Sprintf("%d cached", len(ts))}}
}

func indexName(ix deployment.Index) string {
	var f []string
	for _, x := range ix.Fields {
		f = append(f, x.FieldPath)
	}
	return ix.CollectionGroup + "(" + strings.Join(f, ",") + ")"
}

func show(s string) string {
	if s == "" {
		return "(empty)"
	}
	return s
}

// shortSID shows a SID's kind and its last four digits: enough to tell
// accounts apart.
func shortSID(sid string) string {
	if len(sid) < 8 {
		return sid
	}
	return sid[:2] + "…" + sid[len(sid)-4:]
}
