package twiliotest_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/experthub/experthub/internal/twilio"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

func TestConfigurationWebhooks(t *testing.T) {
	srv := twiliotest.NewServer(twiliotest.Config{})
	defer srv.Close()
	c := twilio.New(srv.ClientConfig())
	ctx := context.Background()

	got, err := c.ConversationsWebhooks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Method != "POST" || got.Target != "webhook" || got.PreWebhookURL != "" || len(got.Filters) != 0 {
		t.Errorf("fresh configuration = %+v, want POST, webhook, nothing else", got)
	}
	want := twilio.ConversationsWebhooks{
		PreWebhookURL: "https://x.example/pre-event", PostWebhookURL: "https://x.example/post-event",
		Method: "POST", Target: "webhook", Filters: []string{"onConversationAdd", "onMessageAdded"},
	}
	if got, err = c.SetConversationsWebhooks(ctx, want); err != nil || !got.Equal(want) {
		t.Fatalf("set = %+v, %v; want %+v", got, err, want)
	}
	if got, err = c.ConversationsWebhooks(ctx); err != nil || !got.Equal(want) {
		t.Fatalf("fetch after set = %+v, %v", got, err)
	}
	if hooks := srv.Webhooks(); hooks.PreWebhookURL != want.PreWebhookURL || !slices.Equal(hooks.Filters, want.Filters) {
		t.Errorf("delivery configuration = %+v, want the one set", hooks)
	}

	for name, bad := range map[string]twilio.ConversationsWebhooks{
		"method":   {Method: "PUT", Target: "webhook"},
		"target":   {Method: "POST", Target: "studio"},
		"filter":   {Method: "POST", Target: "webhook", Filters: []string{"onMessageSent"}},
		"relative": {Method: "POST", Target: "webhook", PreWebhookURL: "/pre-event"},
	} {
		if _, err := c.SetConversationsWebhooks(ctx, bad); !twilio.IsRefusal(err) {
			t.Errorf("%s: err = %v, want a 400", name, err)
		}
	}
	if got, _ := c.ConversationsWebhooks(ctx); !got.Equal(want) {
		t.Errorf("a refused update changed the configuration: %+v", got)
	}
}

func TestWorkspaceEventCallback(t *testing.T) {
	srv := twiliotest.NewServer(twiliotest.Config{})
	defer srv.Close()
	c := twilio.New(srv.ClientConfig())
	ctx := context.Background()

	ws, err := c.FetchWorkspace(ctx, srv.WorkspaceSID())
	if err != nil || ws.SID != srv.WorkspaceSID() || ws.EventCallbackURL != "" {
		t.Fatalf("fetch = %+v, %v", ws, err)
	}
	ws, err = c.SetWorkspaceEventCallback(ctx, srv.WorkspaceSID(), "https://x.example/taskrouter-events", "task.created,task.canceled")
	if err != nil || ws.EventCallbackURL != "https://x.example/taskrouter-events" || ws.EventsFilter != "task.created,task.canceled" {
		t.Fatalf("update = %+v, %v", ws, err)
	}
	if u, f := srv.WorkspaceEventCallback(); u != ws.EventCallbackURL || f != ws.EventsFilter {
		t.Errorf("state = %q %q", u, f)
	}
	if _, err := c.SetWorkspaceEventCallback(ctx, srv.WorkspaceSID(), "not a url", ""); !twilio.IsRefusal(err) {
		t.Errorf("relative callback: err = %v, want a 400", err)
	}
	if _, err := c.FetchWorkspace(ctx, "WS00000000000000000000000000000000"); !errors.Is(err, twilio.ErrNotFound) {
		t.Errorf("other workspace: err = %v, want ErrNotFound", err)
	}
	if q, err := c.FetchTaskQueue(ctx, srv.WorkspaceSID(), srv.QueueSID()); err != nil || q.SID != srv.QueueSID() {
		t.Errorf("task queue = %+v, %v", q, err)
	}
	if _, err := c.FetchTaskQueue(ctx, srv.WorkspaceSID(), "WQ00000000000000000000000000000000"); !errors.Is(err, twilio.ErrNotFound) {
		t.Errorf("other queue: err = %v, want ErrNotFound", err)
	}
	if wf, err := c.FetchWorkflow(ctx, srv.WorkspaceSID(), srv.WorkflowSID()); err != nil || wf.SID != srv.WorkflowSID() || wf.FriendlyName == "" {
		t.Errorf("workflow = %+v, %v", wf, err)
	}
	if _, err := c.FetchWorkflow(ctx, srv.WorkspaceSID(), "WW00000000000000000000000000000000"); !errors.Is(err, twilio.ErrNotFound) {
		t.Errorf("other workflow: err = %v, want ErrNotFound", err)
	}

	bad := srv.ClientConfig()
	bad.AuthToken = "wrong"
	if _, err := twilio.New(bad).FetchWorkspace(ctx, srv.WorkspaceSID()); !errors.Is(err, twilio.ErrUnauthorized) {
		t.Errorf("wrong token: err = %v, want ErrUnauthorized", err)
	}
}

// TestGETWebhooks: with Method GET the fake sends pre- and post-events as
// signed GETs, the parameters in the query string.
func TestGETWebhooks(t *testing.T) {
	var got []*http.Request
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Clone(context.Background()))
		w.Write([]byte("{}"))
	}))
	defer hook.Close()
	srv := twiliotest.NewServer(twiliotest.Config{})
	defer srv.Close()
	srv.SetWebhooks(twiliotest.Webhooks{PreWebhookURL: hook.URL + "/pre-event", Method: "GET", Filters: []string{"onConversationAdd"}})
	if _, err := srv.CustomerTexts(context.Background(), "+15555550111", "+15555550100", "hi"); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Method != http.MethodGet || got[0].URL.Query().Get("EventType") != "onConversationAdd" {
		t.Fatalf("deliveries = %v", got)
	}
	u := hook.URL + got[0].URL.RequestURI()
	if sig := got[0].Header.Get("X-Twilio-Signature"); sig != twiliotest.Sign(srv.AuthToken(), u, nil) {
		t.Errorf("signature %q does not sign the whole URL", sig)
	}
}
