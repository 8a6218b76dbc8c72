package setup_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/experthub/experthub/internal/app"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/function"
	"github.com/experthub/experthub/internal/setup"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

// withEvents is the function list of a product with the waiting line's
// TaskRouter event callback: every function.
var withEvents = function.All()

const base = "https://europe-west1-eh.cloudfunctions.net"

func newSetup(t *testing.T, env config.Env) (*twiliotest.Server, *config.Config) {
	t.Helper()
	fake := twiliotest.NewServer(twiliotest.Config{})
	t.Cleanup(fake.Close)
	vars := config.Env{
		"PUBLIC_BASE_URL":              base,
		"TWILIO_ACCOUNT_SID":           fake.AccountSID(),
		"TWILIO_AUTH_TOKEN":            fake.AuthToken(),
		"TWILIO_API_BASE_URL":          fake.URL,
		"FRONTLINE_WORKSPACE":          fake.WorkspaceSID(),
		"FRONTLINE_DEFAULT_POOL_QUEUE": fake.QueueSID(),
	}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := config.Parse(vars)
	if err != nil {
		t.Fatal(err)
	}
	return fake, cfg
}

func run(t *testing.T, fake *twiliotest.Server, cfg *config.Config, functions []function.Name, opts setup.Options) (string, error) {
	t.Helper()
	var out strings.Builder
	err := setup.Command(context.Background(), cfg, app.NewTwilio(cfg), functions, opts, &out)
	t.Logf("setup twilio %+v:\n%s", opts, out.String())
	return squeeze(out.String()), err
}

// squeeze collapses runs of spaces: the tests do not check alignment.
func squeeze(s string) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	return strings.Join(lines, "\n")
}

func writes(fake *twiliotest.Server) []twiliotest.Request {
	return slices.DeleteFunc(fake.Requests(), func(r twiliotest.Request) bool { return r.Method != http.MethodPost })
}

func TestSetupTwilioDryRunChangesNothing(t *testing.T) {
	fake, cfg := newSetup(t, nil)
	before := fake.Webhooks()
	out, err := run(t, fake, cfg, withEvents, setup.Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"~ PreWebhookUrl (empty) → " + base + "/pre-event",
		"~ PostWebhookUrl (empty) → " + base + "/post-event",
		"~ Filters (empty) → onConversationAdd,onConversationStateUpdated,onMessageAdded,onParticipantAdded,onParticipantRemoved",
		"~ EventCallbackUrl (empty) → " + base + "/taskrouter-events",
		"Dry run: 2 change(s) shown, nothing written.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if w := writes(fake); len(w) != 0 {
		t.Errorf("a dry run wrote: %+v", w)
	}
	if after := fake.Webhooks(); after.PreWebhookURL != before.PreWebhookURL || len(after.Filters) != 0 {
		t.Errorf("a dry run changed the webhooks: %+v", after)
	}
	if u, _ := fake.WorkspaceEventCallback(); u != "" {
		t.Errorf("a dry run set the event callback to %q", u)
	}
}

func TestSetupTwilioAppliesThenIsIdempotent(t *testing.T) {
	fake, cfg := newSetup(t, config.Env{"PUBLIC_URL_PRE_EVENT": "https://pre-event-abc-ew.a.run.app"})
	out, err := run(t, fake, cfg, withEvents, setup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Applied 2 change(s).") {
		t.Errorf("output lacks the applied line")
	}
	hooks := fake.Webhooks()
	if hooks.PreWebhookURL != "https://pre-event-abc-ew.a.run.app" || hooks.PostWebhookURL != base+"/post-event" ||
		hooks.Method != "POST" || hooks.Target != "webhook" ||
		!slices.Equal(hooks.Filters, []string{"onConversationAdd", "onParticipantAdded", "onMessageAdded", "onConversationStateUpdated", "onParticipantRemoved"}) {
		t.Errorf("webhooks = %+v", hooks)
	}
	if u, _ := fake.WorkspaceEventCallback(); u != base+"/taskrouter-events" {
		t.Errorf("event callback = %q", u)
	}

	fake.ClearRequests()
	out, err = run(t, fake, cfg, withEvents, setup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "No changes") || strings.Contains(out, "~ ") {
		t.Errorf("second run shows changes")
	}
	if w := writes(fake); len(w) != 0 {
		t.Errorf("second run wrote: %+v", w)
	}
}

func TestSetupTwilioForeignEventCallback(t *testing.T) {
	const foreign = "https://reports.example.com/taskrouter"
	fake, cfg := newSetup(t, nil)
	fake.SetWorkspaceEventCallback(foreign, "task.created")

	out, err := run(t, fake, cfg, withEvents, setup.Options{})
	if !errors.Is(err, setup.ErrForeignEventCallback) {
		t.Fatalf("err = %v, want ErrForeignEventCallback", err)
	}
	if !strings.Contains(out, foreign) || !strings.Contains(out, "--take-event-callback") {
		t.Errorf("output does not name the foreign callback and the flag")
	}
	if u, f := fake.WorkspaceEventCallback(); u != foreign || f != "task.created" {
		t.Errorf("foreign callback replaced without the flag: %q %q", u, f)
	}
	if fake.Webhooks().PreWebhookURL != base+"/pre-event" {
		t.Errorf("the Conversations webhooks were not applied beside the refusal")
	}

	if _, err := run(t, fake, cfg, withEvents, setup.Options{NoEventCallback: true}); err != nil {
		t.Errorf("--no-event-callback: %v", err)
	}
	if u, _ := fake.WorkspaceEventCallback(); u != foreign {
		t.Errorf("--no-event-callback changed the callback to %q", u)
	}

	if _, err := run(t, fake, cfg, withEvents, setup.Options{TakeEventCallback: true}); err != nil {
		t.Fatal(err)
	}
	if u, f := fake.WorkspaceEventCallback(); u != base+"/taskrouter-events" || f != "" {
		t.Errorf("--take-event-callback: callback = %q %q", u, f)
	}
}

func TestSetupTwilioWithoutEventsFunction(t *testing.T) {
	fake, cfg := newSetup(t, nil)
	without := slices.DeleteFunc(function.All(), func(f function.Name) bool { return f == function.TaskRouterEvents })
	out, err := run(t, fake, cfg, without, setup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "not needed") {
		t.Errorf("output does not say the event callback is not needed")
	}
	for _, r := range fake.Requests() {
		if strings.HasPrefix(r.Path, "/v1/Workspaces") {
			t.Errorf("touched the workspace: %s %s", r.Method, r.Path)
		}
	}
}

func TestSetupTwilioChecklist(t *testing.T) {
	fake, cfg := newSetup(t, config.Env{"PUBLIC_URL_CRM": "https://crm-abc-ew.a.run.app"})
	out, err := run(t, fake, cfg, function.All(), setup.Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"CRM Callback URL: https://crm-abc-ew.a.run.app",
		"Outgoing Conversations Callback URL: " + base + "/outgoing",
		"Custom routing, callback URL: " + base + "/routing",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("checklist lacks %q", want)
		}
	}
}

func TestSetupTwilioRefusedCredentials(t *testing.T) {
	fake, cfg := newSetup(t, config.Env{"TWILIO_AUTH_TOKEN": "0000000000000000000000000000dead"})
	if _, err := run(t, fake, cfg, function.All(), setup.Options{}); err == nil || strings.Contains(err.Error(), cfg.TwilioAuthToken) {
		t.Errorf("err = %v, want a refusal that does not repeat the token", err)
	}
}

// TestSetupFlexEventCallback: with a contact center, the Flex
// workspace's event callback is set to flex-events once; another
// system's is kept and reported, unless --take-event-callback.
func TestSetupFlexEventCallback(t *testing.T) {
	const flexSID, flexToken = "ACf1e0000000000000000000000000f1e0", "f1e0a0000000000000000000000f1e0a"
	for _, foreign := range []bool{false, true} {
		fake, _ := newSetup(t, nil)
		flex := fake.AddAccount(twiliotest.AccountConfig{AccountSID: flexSID, AuthToken: flexToken})
		if foreign {
			flex.SetWorkspaceEventCallback("https://flex-insights.example.com/events", "")
		}
		cfg, err := config.Parse(config.Env{
			"PUBLIC_BASE_URL": base, "TWILIO_ACCOUNT_SID": fake.AccountSID(), "TWILIO_AUTH_TOKEN": fake.AuthToken(), "TWILIO_API_BASE_URL": fake.URL,
			"FRONTLINE_WORKSPACE": fake.WorkspaceSID(), "FRONTLINE_DEFAULT_POOL_QUEUE": fake.QueueSID(),
			"FLEX_ACCOUNT_SID": flexSID, "FLEX_AUTH_TOKEN": flexToken, "FLEX_WORKSPACE": flex.WorkspaceSID(),
			"FLEX_WORKFLOW": flex.WorkflowSID(), "HANDOFF_SECRET": strings.Repeat("s", 32),
		})
		if err != nil {
			t.Fatal(err)
		}
		opts := setup.Options{Flex: app.NewFlexTwilio(cfg)}
		out, err := run(t, fake, cfg, withEvents, opts)
		url, filter := flex.WorkspaceEventCallback()
		if foreign {
			if !errors.Is(err, setup.ErrForeignEventCallback) || url != "https://flex-insights.example.com/events" || !strings.Contains(out, "another system's: left as is") {
				t.Errorf("foreign callback: err %v, callback %q\n%s", err, url, out)
			}
			opts.TakeEventCallback = true
			if _, err := run(t, fake, cfg, withEvents, opts); err != nil {
				t.Fatal(err)
			}
			url, filter = flex.WorkspaceEventCallback()
		} else if err != nil {
			t.Fatal(err)
		}
		if url != base+"/flex-events" || filter != strings.Join(setup.FlexEvents, ",") {
			t.Errorf("Flex workspace callback %q %q, want %s/flex-events", url, filter, base)
		}
		n := len(writes(&twiliotest.Server{Fake: flex}))
		if _, err := run(t, fake, cfg, withEvents, opts); err != nil {
			t.Fatal(err)
		}
		if again := len(writes(&twiliotest.Server{Fake: flex})); again != n {
			t.Errorf("a second run wrote %d times more", again-n)
		}
	}
}
