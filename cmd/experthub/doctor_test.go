package main

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/deployment"
	"github.com/experthub/experthub/internal/firestoretest"
	"github.com/experthub/experthub/internal/function"
)

// TestDoctorExitStatus runs the command on the settings of a running
// stack: a configured Twilio passes; Twilio calling another pre-event URL
// makes the command fail, and --base-url stands for PUBLIC_BASE_URL.
func TestDoctorExitStatus(t *testing.T) {
	d, err := deployment.Load()
	if err != nil {
		t.Fatal(err)
	}
	h := apptest.New(t, apptest.Options{Store: apptest.Firestore, Filters: slices.Concat(d.PreEventFilters, d.PostEventFilters)})
	h.Twilio.AddWorker("ann@example.com", true, nil, h.Twilio.QueueSID())
	h.Twilio.SetWorkspaceEventCallback(h.URL("taskrouter-events"), "")
	env := func() config.Env {
		return config.Env{
			"PUBLIC_BASE_URL":              "https://not-this-one.example.com",
			"TWILIO_ACCOUNT_SID":           h.Config.TwilioAccountSID,
			"TWILIO_AUTH_TOKEN":            h.Config.TwilioAuthToken,
			"TWILIO_API_BASE_URL":          h.Twilio.URL,
			"FRONTLINE_WORKSPACE":          h.Config.Workspace,
			"FRONTLINE_DEFAULT_POOL_QUEUE": h.Config.PoolQueue,
			"GOOGLE_CLOUD_PROJECT":         h.Config.Project,
			firestoretest.EnvHost:          h.Config.FirestoreEmulator,
		}
	}
	var out strings.Builder
	if err := runDoctor(context.Background(), env(), h.Server.URL, "", function.All(), &out); err != nil {
		t.Errorf("configured stack: %v\n%s", err, out.String())
	}
	t.Logf("doctor --base-url %s:\n%s", h.Server.URL, out.String())

	// A build's environment names the CRM without its credentials: it is
	// reported as not checked, and the configuration still reads.
	withCRM := env()
	withCRM["STRAPI_URL"] = "https://cms.example.com"
	out.Reset()
	if err := runDoctor(context.Background(), withCRM, h.Server.URL, "", function.All(), &out); err != nil {
		t.Errorf("CRM without credentials: %v\n%s", err, out.String())
	}
	if !regexp.MustCompile(`(?m)^warn\s+crm\s+https://cms\.example\.com: not checked`).MatchString(out.String()) {
		t.Errorf("no warning that the CRM is not checked:\n%s", out.String())
	}

	// Likewise a contact center without its secrets.
	withFlex := env()
	withFlex["FLEX_ACCOUNT_SID"] = apptest.FlexAccountSID
	withFlex["FLEX_WORKSPACE"] = "WS0123456789abcdef0123456789abcdef"
	withFlex["FLEX_WORKFLOW"] = "WW0123456789abcdef0123456789abcdef"
	out.Reset()
	if err := runDoctor(context.Background(), withFlex, h.Server.URL, "", function.All(), &out); err != nil {
		t.Errorf("contact center without credentials: %v\n%s", err, out.String())
	}
	if !regexp.MustCompile(`(?m)^warn\s+contact center\s+account AC…f1e0: not checked`).MatchString(out.String()) {
		t.Errorf("no warning that the contact center is not checked:\n%s", out.String())
	}

	hooks := h.Twilio.Webhooks()
	hooks.PreWebhookURL = "https://old.example.com/pre-event"
	h.Twilio.SetWebhooks(hooks)
	out.Reset()
	err = runDoctor(context.Background(), env(), h.Server.URL, "", function.All(), &out)
	if !errors.Is(err, errDoctorFailed) {
		t.Errorf("mismatched pre-event URL: err = %v, want errDoctorFailed", err)
	}
	if !strings.Contains(out.String(), "FAIL  conversations webhooks") {
		t.Errorf("no FAIL line for the webhooks:\n%s", out.String())
	}
}
