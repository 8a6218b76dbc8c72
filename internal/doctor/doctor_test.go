package doctor_test

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/crmsync"
	"github.com/experthub/experthub/internal/deployment"
	"github.com/experthub/experthub/internal/doctor"
	"github.com/experthub/experthub/internal/firestoretest"
	"github.com/experthub/experthub/internal/function"
)

func TestMain(m *testing.M) { firestoretest.Main(m) }

// stack is a running Expert Hub on the Firestore emulator with a Strapi
// v4, synced once, its Twilio configured as `setup twilio` leaves it.
func stack(t *testing.T, opts apptest.Options) *apptest.Harness {
	t.Helper()
	d, err := deployment.Load()
	if err != nil {
		t.Fatal(err)
	}
	opts.Store = apptest.Firestore
	opts.StrapiVersion = 4
	opts.StrapiCustomers = 5
	if opts.Filters == nil {
		opts.Filters = slices.Concat(d.PreEventFilters, d.PostEventFilters)
	}
	opts.LogLevel = "info"
	h := apptest.New(t, opts)
	if _, err := h.App.NewSyncer(nil).Full(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.Twilio.AddWorker("ann@example.com", true, nil, h.Twilio.QueueSID())
	h.Twilio.AddWorker("worker5@example.com", false, nil) // customer 5's advisor
	h.Twilio.SetWorkspaceEventCallback(h.URL(function.TaskRouterEvents), "")
	return h
}

// examine runs the doctor with cfg against the stack and returns its
// output by check, and whether it failed.
func examine(t *testing.T, cfg *config.Config, tune func(*doctor.Doctor)) (out string, lines map[string]string, failed bool) {
	t.Helper()
	d, closeAll, err := doctor.Build(context.Background(), cfg, function.All(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	if tune != nil {
		tune(d)
	}
	var b strings.Builder
	failed = d.Run(context.Background(), &b)
	out = b.String()
	t.Logf("experthub doctor:\n%s", out)
	lines = map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 2 {
			// "ok    function crm  …": the check is the words up to the detail.
			best := ""
			for _, name := range slices.Concat(checks, flexCheckNames) {
				if strings.HasPrefix(strings.TrimSpace(l[4:]), name+" ") && len(name) > len(best) {
					best = name
				}
			}
			if best != "" {
				lines[best] = f[0] + " " + strings.Join(strings.Fields(l[4:]), " ")
			}
		}
	}
	noLeak(t, cfg, out)
	return out, lines, failed
}

var checks = append([]string{
	"twilio credentials", "twilio workspace", "twilio pool queue", "twilio workers", "conversations webhooks",
	"crm", "firestore", "firestore indexes", "firestore ttl policies", "secrets", "last full sync", "templates",
	"customers' advisors",
}, functionChecks()...)

func functionChecks() []string {
	var out []string
	for _, f := range function.All() {
		out = append(out, "function "+string(f))
	}
	return out
}

var fullNumber = regexp.MustCompile(`(^|[^0-9A-Za-z-])\+?\d{7,}($|[^0-9A-Za-z])`)

// noLeak fails when the output holds a configured secret or anything like
// a full phone number.
func noLeak(t *testing.T, cfg *config.Config, out string) {
	t.Helper()
	for _, secret := range []string{cfg.TwilioAuthToken, cfg.CRM.APIToken, cfg.CRM.WebhookSecret, apptest.StrapiAPIToken, apptest.WebhookSecret,
		cfg.FlexAuthToken, cfg.HandoffSecret, apptest.FlexAuthToken, apptest.HandoffSecret} {
		if secret != "" && strings.Contains(out, secret) {
			t.Errorf("doctor printed a secret")
		}
	}
	// Ports and SIDs are digits too: look at what is not a URL or a SID.
	scrubbed := regexp.MustCompile(`https?://\S+|\b[A-Z]{2}[0-9a-f]{32}\b`).ReplaceAllString(out, "")
	if m := fullNumber.FindAllString(scrubbed, -1); len(m) > 0 {
		t.Errorf("doctor printed what looks like a phone number: %q", m)
	}
}

func TestDoctorHealthy(t *testing.T) {
	h := stack(t, apptest.Options{})
	_, lines, failed := examine(t, h.Config, nil)
	if failed {
		t.Errorf("a configured stack fails")
	}
	for _, name := range checks {
		l, ok := lines[name]
		if !ok {
			t.Errorf("no line for %q", name)
			continue
		}
		want := "ok"
		switch name {
		case "crm", "firestore indexes", "firestore ttl policies":
			want = "warn" // no admin credentials, the emulator
		}
		if got := strings.Fields(l)[0]; got != want {
			t.Errorf("%s: %s, want %s", name, l, want)
		}
	}
	if l := lines["firestore indexes"]; !strings.Contains(l, "skipped (emulator)") {
		t.Errorf("indexes on the emulator: %s", l)
	}
	for _, f := range []string{"pre-event", "post-event", "crm", "outgoing", "templates", "routing", "taskrouter-events"} {
		if l := lines["function "+f]; !strings.Contains(l, "signed") {
			t.Errorf("%s was not probed signed: %s", f, l)
		}
	}
	// The probes name themselves in the functions' logs.
	if !strings.Contains(h.Logs.String(), doctor.UserAgent) {
		t.Errorf("no probe logged with User-Agent %s", doctor.UserAgent)
	}
}

// TestDoctorWebhookURLMismatch is the case that drops every customer
// message: Twilio calls an old URL, pre-event refuses its signature.
func TestDoctorWebhookURLMismatch(t *testing.T) {
	h := stack(t, apptest.Options{})
	hooks := h.Twilio.Webhooks()
	hooks.PreWebhookURL = "https://old-deployment.example.com/pre-event"
	h.Twilio.SetWebhooks(hooks)
	_, lines, failed := examine(t, h.Config, nil)
	if !failed {
		t.Errorf("doctor passes a pre-event URL Twilio signs differently")
	}
	l := lines["conversations webhooks"]
	if !strings.HasPrefix(l, "FAIL") || !strings.Contains(l, "old-deployment.example.com") || !strings.Contains(l, h.URL("pre-event")) {
		t.Errorf("webhooks line = %q", l)
	}
}

// TestDoctorFunctionChecksAnotherURL: the doctor's URL of the functions
// is not the one they check signatures against (PUBLIC_BASE_URL differs
// between the deployment and Twilio): the signed probes get 403.
func TestDoctorFunctionChecksAnotherURL(t *testing.T) {
	h := stack(t, apptest.Options{})
	cfg := *h.Config
	cfg.PublicBaseURL = strings.Replace(h.Server.URL, "127.0.0.1", "localhost", 1)
	cfg.PublicURLs = nil
	_, lines, failed := examine(t, &cfg, nil)
	if !failed {
		t.Fatal("doctor passes")
	}
	if l := lines["function pre-event"]; !strings.HasPrefix(l, "FAIL") || !strings.Contains(l, "403") {
		t.Errorf("pre-event line = %q", l)
	}
	if l := lines["conversations webhooks"]; !strings.HasPrefix(l, "FAIL") {
		t.Errorf("webhooks line = %q", l)
	}
}

func TestDoctorFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   apptest.Options
		before func(*apptest.Harness)
		cfg    func(*config.Config)
		tune   func(*doctor.Doctor)
		check  string
	}{
		{name: "no worker", check: "twilio workers", before: func(h *apptest.Harness) {
			for _, w := range h.Twilio.Workers() {
				h.Twilio.RemoveWorker(w.SID)
			}
		}},
		{name: "missing filter", check: "conversations webhooks", opts: apptest.Options{Filters: []string{"onConversationAdd", "onMessageAdded"}}},
		{name: "missing lifecycle filter", check: "conversations webhooks", opts: apptest.Options{
			Filters: []string{"onConversationAdd", "onParticipantAdded", "onMessageAdded", "onParticipantRemoved"}}},
		{name: "GET method", check: "conversations webhooks", before: func(h *apptest.Harness) {
			w := h.Twilio.Webhooks()
			w.Method = "GET"
			h.Twilio.SetWebhooks(w)
		}},
		{name: "wrong auth token", check: "twilio credentials", cfg: func(c *config.Config) {
			c.TwilioAuthToken = "0000000000000000000000000000dead"
		}},
		{name: "stale sync", check: "last full sync", tune: func(d *doctor.Doctor) {
			d.Now = func() time.Time { return time.Now().Add(doctor.SyncMaxAge + time.Hour) }
		}},
		{name: "wrong Strapi token", check: "crm", cfg: func(c *config.Config) {
			c.CRM.APIToken = "strapi-api-token-wrong000000000000000000000000000000"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := stack(t, tc.opts)
			if tc.before != nil {
				tc.before(h)
			}
			cfg := *h.Config
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			_, lines, failed := examine(t, &cfg, tc.tune)
			if !failed {
				t.Errorf("doctor passes")
			}
			if l := lines[tc.check]; !strings.HasPrefix(l, "FAIL") {
				t.Errorf("%s line = %q, want FAIL", tc.check, l)
			}
		})
	}
}

// TestDoctorEmptyCRMGuard: every customer, or every template, deleted in
// Strapi while the webhooks were missed. The full sync keeps the cache
// (its guard against a wrong collection); doctor warns with the way out,
// and is content again once `experthub sync --allow-empty` ran.
func TestDoctorEmptyCRMGuard(t *testing.T) {
	for _, tc := range []struct {
		check string
		kept  string
		// empty deletes every record of the collection in Strapi and
		// runs its full sync, trusting an empty CRM or not.
		empty func(t *testing.T, h *apptest.Harness, allowEmpty bool)
	}{
		{"templates", "the last full sync found none in Strapi and kept 2 cached (guard); run experthub sync --allow-empty if they were deleted",
			func(t *testing.T, h *apptest.Harness, allowEmpty bool) {
				for _, tp := range h.Strapi.Templates() {
					if err := h.Strapi.DeleteTemplate(tp.ID); err != nil {
						t.Fatal(err)
					}
				}
				sy := h.App.NewTemplateSyncer()
				full := map[bool]func(context.Context) (crmsync.Progress, error){false: sy.Full, true: sy.FullAllowEmpty}[allowEmpty]
				if _, err := full(t.Context()); err != nil {
					t.Fatal(err)
				}
			}},
		{"last full sync", "it found no customer in Strapi and kept 5 cached (guard); run experthub sync --allow-empty if they were deleted",
			func(t *testing.T, h *apptest.Harness, allowEmpty bool) {
				for _, c := range h.Strapi.Customers() {
					if _, err := h.Strapi.Delete(c.ID); err != nil {
						t.Fatal(err)
					}
				}
				sy := h.App.NewSyncer(nil)
				full := map[bool]func(context.Context) (crmsync.Progress, error){false: sy.Full, true: sy.FullAllowEmpty}[allowEmpty]
				if _, err := full(t.Context()); err != nil {
					t.Fatal(err)
				}
			}},
	} {
		t.Run(tc.check, func(t *testing.T) {
			h := stack(t, apptest.Options{})
			h.Strapi.AddTemplate(crm.Template{Content: "Hello", Order: 1})
			h.Strapi.AddTemplate(crm.Template{Content: "Bonjour", Order: 2})
			if _, err := h.App.NewTemplateSyncer().Full(t.Context()); err != nil {
				t.Fatal(err)
			}
			if _, lines, _ := examine(t, h.Config, nil); !strings.HasPrefix(lines["templates"], "ok templates 2 cached") {
				t.Errorf("templates line = %q, want ok with 2 cached", lines["templates"])
			}

			tc.empty(t, h, false)
			_, lines, failed := examine(t, h.Config, nil)
			if failed {
				t.Errorf("the guard fails doctor; it is a warning")
			}
			if l := lines[tc.check]; !strings.HasPrefix(l, "warn") || !strings.Contains(l, tc.kept) {
				t.Errorf("%s line = %q, want a warning: %s", tc.check, l, tc.kept)
			}

			tc.empty(t, h, true)
			if _, lines, _ := examine(t, h.Config, nil); !strings.HasPrefix(lines[tc.check], "ok") {
				t.Errorf("after --allow-empty, %s line = %q, want ok", tc.check, lines[tc.check])
			}
		})
	}
}

// fakeAdmin is Google Cloud's admin APIs as a test sets them.
type fakeAdmin struct {
	indexes map[string][]doctor.Index
	ttl     map[string]string
	secrets map[string]bool
}

func (f *fakeAdmin) Indexes(_ context.Context, group string) ([]doctor.Index, error) {
	return f.indexes[group], nil
}

func (f *fakeAdmin) TTLState(_ context.Context, group, field string) (string, error) {
	return f.ttl[group+"."+field], nil
}

func (f *fakeAdmin) SecretEnabled(_ context.Context, secret string) (bool, error) {
	return f.secrets[secret], nil
}

func TestDoctorAdminChecks(t *testing.T) {
	h := stack(t, apptest.Options{})
	healthy := func(d *doctor.Doctor) *fakeAdmin {
		a := &fakeAdmin{indexes: map[string][]doctor.Index{}, ttl: map[string]string{}, secrets: map[string]bool{}}
		for _, ix := range d.Indexes {
			a.indexes[ix.CollectionGroup] = append(a.indexes[ix.CollectionGroup], doctor.Index{Fields: ix.Fields, State: "READY"})
		}
		for _, f := range d.TTLFields {
			a.ttl[f.CollectionGroup+"."+f.FieldPath] = "ACTIVE"
		}
		for _, s := range d.Secrets {
			a.secrets[s.Secret] = true
		}
		return a
	}
	for _, tc := range []struct {
		name   string
		break_ func(*fakeAdmin)
		check  string
		want   string
	}{
		{"healthy", func(*fakeAdmin) {}, "firestore indexes", "ok"},
		{"index building", func(a *fakeAdmin) { a.indexes["customers"][0].State = "CREATING" }, "firestore indexes", "warn"},
		{"index broken", func(a *fakeAdmin) { a.indexes["customers"][0].State = "NEEDS_REPAIR" }, "firestore indexes", "FAIL"},
		{"index missing", func(a *fakeAdmin) { a.indexes["customers"] = a.indexes["customers"][1:] }, "firestore indexes", "FAIL"},
		{"ttl missing", func(a *fakeAdmin) { a.ttl["experthub_ledger.expire_at"] = "" }, "firestore ttl policies", "FAIL"},
		{"ttl creating", func(a *fakeAdmin) { a.ttl["experthub_ledger.expire_at"] = "CREATING" }, "firestore ttl policies", "warn"},
		{"secret missing", func(a *fakeAdmin) { a.secrets["strapi-webhook-secret"] = false }, "secrets", "FAIL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, lines, failed := examine(t, h.Config, func(d *doctor.Doctor) {
				a := healthy(d)
				tc.break_(a)
				d.Admin = a
			})
			if l := lines[tc.check]; !strings.HasPrefix(l, tc.want) {
				t.Errorf("%s line = %q, want %s", tc.check, l, tc.want)
			}
			if failed != (tc.want == "FAIL") {
				t.Errorf("failed = %v", failed)
			}
		})
	}
}

// flexCheckNames are the contact center's lines, present only with one.
var flexCheckNames = []string{"contact center", "flex credentials", "flex workspace", "flex workflow", "handoff secret", "flex event callback", "whatsapp template"}

// TestDoctorContactCenter checks the contact center's lines against the
// fake Twilio's second account (the Flex one): its credentials, workspace,
// workflow, HANDOFF_SECRET (never its value), when Expert Hub takes the
// Flex workspace's events, the event callback, and the WhatsApp template
// of handoffs outside the 24-hour window (in the Frontline account).
func TestDoctorContactCenter(t *testing.T) {
	h := stack(t, apptest.Options{Flex: true})
	const other = "00000000000000000000000000000000"
	approved := h.Twilio.AddContent("handoff_opener", "approved")
	pending := h.Twilio.AddContent("handoff_opener_2", "pending")
	template := func(sid string) func(c *config.Config) {
		return func(c *config.Config) { c.HandoffContentSID = sid }
	}
	notFlexEvents := func(d *doctor.Doctor) {
		d.Functions = slices.DeleteFunc(slices.Clone(d.Functions), func(n function.Name) bool { return n == function.FlexEvents })
	}
	cases := []struct {
		name     string
		change   func(c *config.Config)
		tune     func(d *doctor.Doctor)
		callback string // the Flex workspace's EventCallbackUrl; "want": the function's URL
		want     map[string]string
	}{
		{"healthy", template(approved), nil, "want", map[string]string{
			"flex credentials": "ok", "flex workspace": "ok", "flex workflow": "ok", "handoff secret": "ok", "flex event callback": "ok", "contact center": "",
			"whatsapp template": "ok"}},
		{"no WhatsApp template", nil, nil, "want", map[string]string{
			"flex credentials": "ok", "whatsapp template": "warn"}},
		{"WhatsApp template pending", template(pending), nil, "want", map[string]string{
			"flex credentials": "ok", "whatsapp template": "FAIL"}},
		{"WhatsApp template of no account", template("HX" + other), nil, "want", map[string]string{
			"flex credentials": "ok", "whatsapp template": "FAIL"}},
		{"flex-events not deployed", nil, notFlexEvents, "", map[string]string{
			"flex credentials": "ok", "flex event callback": ""}},
		{"wrong token", func(c *config.Config) { c.FlexAuthToken = "wrong0000000000000000000000000000" }, nil, "", map[string]string{
			"flex credentials": "FAIL", "flex workspace": "", "flex workflow": ""}},
		{"Frontline's token for Flex", func(c *config.Config) { c.FlexAuthToken = c.TwilioAuthToken }, nil, "", map[string]string{
			"flex credentials": "FAIL"}},
		{"workspace of no account", func(c *config.Config) { c.FlexWorkspace = "WS" + other }, nil, "", map[string]string{
			"flex credentials": "ok", "flex workspace": "FAIL"}},
		{"Frontline's workspace as Flex's", func(c *config.Config) { c.FlexWorkspace = c.Workspace }, nil, "", map[string]string{
			"flex credentials": "ok", "flex workspace": "FAIL"}},
		{"workflow missing", func(c *config.Config) { c.FlexWorkflow = "WW" + other }, nil, "", map[string]string{
			"flex workspace": "ok", "flex workflow": "FAIL"}},
		{"no handoff secret", func(c *config.Config) { c.HandoffSecret = "" }, nil, "", map[string]string{
			"handoff secret": "FAIL"}},
		{"flex-events deployed, callback unset", nil, nil, "", map[string]string{
			"flex event callback": "FAIL"}},
		{"flex-events deployed, callback elsewhere", nil, nil, "https://elsewhere.example.com/flex", map[string]string{
			"flex event callback": "FAIL"}},
		{"credentials not here", nil, func(d *doctor.Doctor) { d.Flex, d.FlexUnchecked = nil, apptest.FlexAccountSID }, "", map[string]string{
			"contact center": "warn", "flex credentials": ""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := *h.Config
			if c.change != nil {
				c.change(&cfg)
			}
			callback := c.callback
			if callback == "want" {
				callback = cfg.PublicURL(function.FlexEvents)
			}
			h.Flex.SetWorkspaceEventCallback(callback, "")
			_, lines, failed := examine(t, &cfg, c.tune)
			wantFail := false
			for name, want := range c.want {
				wantFail = wantFail || want == "FAIL"
				got := ""
				if l, ok := lines[name]; ok {
					got = strings.Fields(l)[0]
				}
				if got != want {
					t.Errorf("%s: %q, want %q", name, lines[name], want)
				}
			}
			if wantFail && !failed {
				t.Error("doctor did not fail")
			}
		})
	}
	// Without a contact center: no line about one.
	plain := stack(t, apptest.Options{})
	_, lines, _ := examine(t, plain.Config, nil)
	for _, name := range flexCheckNames {
		if l, ok := lines[name]; ok {
			t.Errorf("no contact center, yet: %s", l)
		}
	}
}

// TestDoctorAdvisors: customers whose advisor left (Frontline user
// deactivated, or none) are counted, named by id only.
func TestDoctorAdvisors(t *testing.T) {
	h := stack(t, apptest.Options{})
	h.Twilio.AddWorker("bob@example.com", true, nil, h.Twilio.QueueSID())
	h.Twilio.SetUserActive("bob@example.com", false)
	now := time.Now()
	err := h.App.Store.Upsert(context.Background(),
		crm.Customer{ID: "adv-1", DisplayName: "Olivia Martin", Worker: "ann@example.com", Channels: []crm.Channel{{Type: "sms", Value: "+33679500011"}}, SyncedAt: now},
		crm.Customer{ID: "adv-2", DisplayName: "Paul Durand", Worker: "bob@example.com", Channels: []crm.Channel{{Type: "sms", Value: "+33679500012"}}, SyncedAt: now},
		crm.Customer{ID: "adv-3", DisplayName: "Quinn Lee", Worker: "gone@example.com", Channels: []crm.Channel{{Type: "sms", Value: "+33679500013"}}, SyncedAt: now},
	)
	if err != nil {
		t.Fatal(err)
	}
	out, lines, _ := examine(t, h.Config, nil)
	l := lines["customers' advisors"]
	if !strings.HasPrefix(l, "warn") || !strings.Contains(l, "2 customer(s)") || !strings.Contains(l, "adv-2") || !strings.Contains(l, "adv-3") {
		t.Errorf("advisors line %q, want a warning counting adv-2 and adv-3", l)
	}
	if strings.Contains(out, "Paul") || strings.Contains(out, "Quinn") {
		t.Error("the doctor names customers")
	}
	noLeak(t, h.Config, out)
}
