package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/twilio"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

// TestParticipantAttributes: the customer's participant gets customer_id,
// display_name and avatar once, without overwriting what is there;
// workers, outbound conversations and strangers are left alone.
func TestParticipantAttributes(t *testing.T) {
	e := newEnv(t, apptest.Options{})
	e.workers("ann@example.com")
	conv := e.text(maria, "ann@example.com").ConversationSID
	cust := e.customer(conv)
	updates := func() int { return len(e.requests(http.MethodPost, "/v1/Conversations/*/Participants/*")) }

	want := `{"avatar":"https://cinnabar-albatross-5407.twil.io/assets/face2.jpeg","customer_id":"1","display_name":"Maria Sanchez"}`
	if cust.Attributes != want {
		t.Errorf("customer attributes = %s, want %s", cust.Attributes, want)
	}
	var added twiliotest.Delivery
	for _, d := range e.Twilio.Deliveries() {
		if d.EventType == "onParticipantAdded" {
			added = d
		}
	}

	// A retry finds nothing to add.
	for range 3 {
		if d := e.Twilio.Redeliver(context.Background(), added); d.Status != http.StatusOK {
			t.Fatalf("redelivery: %d %s", d.Status, d.Body)
		}
	}
	if n := updates(); n != 1 {
		t.Errorf("%d participant updates after redeliveries, want 1", n)
	}

	// Someone renamed the customer and dropped the avatar meanwhile: the
	// name stays, the avatar comes back.
	if err := twilio.New(e.Twilio.ClientConfig()).UpdateParticipantAttributes(e.ctx(), conv, cust.SID, `{"customer_id":"1","display_name":"Maria S. (VIP)","tier":2}`); err != nil {
		t.Fatal(err)
	}
	e.Twilio.Redeliver(context.Background(), added)
	got := e.customer(conv).Attributes
	var attrs map[string]any
	if err := json.Unmarshal([]byte(got), &attrs); err != nil {
		t.Fatal(err)
	}
	if attrs["display_name"] != "Maria S. (VIP)" || attrs["tier"] != float64(2) || attrs["avatar"] == nil {
		t.Errorf("after merge: %s", got)
	}

	e.Twilio.ClearRequests()
	base := url.Values{"EventType": {"onParticipantAdded"}, "ConversationSid": {conv}, "ParticipantSid": {cust.SID},
		"MessagingBinding.Address": {maria}, "Attributes": {"{}"}}
	with := func(k, v string) url.Values {
		p := url.Values{}
		for kk, vv := range base {
			p[kk] = vv
		}
		if v == "" {
			p.Del(k)
		} else {
			p.Set(k, v)
		}
		return p
	}
	for name, params := range map[string]url.Values{
		"worker":                     with("Identity", "ann@example.com"),
		"outbound (attributes set)":  with("Attributes", `{"customer_id":"1"}`),
		"chat participant, no phone": with("MessagingBinding.Address", ""),
	} {
		if status, body := e.post("post-event", params); status != http.StatusOK {
			t.Errorf("%s: %d %s", name, status, body)
		}
	}
	// The outbound conversation's customer only brings its timers.
	var timers int
	for _, r := range e.Twilio.Requests() {
		if r.Method == http.MethodPost && r.Path == "/v1/Conversations/"+conv && r.Form.Has("Timers.Closed") {
			timers++
		} else {
			t.Errorf("skipped participants caused %s %s", r.Method, r.Path)
		}
	}
	if timers != 1 {
		t.Errorf("the outbound conversation's timers were set %d times, want once", timers)
	}

	// A stranger's participant is left as it is.
	strangerConv := e.text(stranger, "hi").ConversationSID
	if a := e.customer(strangerConv).Attributes; a != "{}" {
		t.Errorf("stranger's attributes = %s, want {}", a)
	}
	if len(e.Logs.Lines("customer not in the CRM")) == 0 {
		t.Error("unknown customer not logged")
	}
}
