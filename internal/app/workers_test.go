package app_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

// TestLongestIdle: "agent" goes to the available worker idle longest by
// lastAcceptedTaskTime, never-assigned first, and moves their time to now
// in TaskRouter, keeping their other attributes exactly.
// TestRecordAccepted (internal/twilioflow) checks the update's merge.
func TestLongestIdle(t *testing.T) {
	tests := []struct {
		name      string
		nullLists bool // TaskRouter lists workers without attributes
		want      []string
	}{
		// bob was never assigned, carl longer ago than ann.
		{name: "attributes listed", want: []string{"bob@example.com", "carl@example.com", "ann@example.com", "bob@example.com"}},
		// TaskRouter's times unknown and the store has no record yet
		// (nobody was assigned through Expert Hub): list order, then the
		// store's record. See TestLongestIdleWithoutListedAttributes.
		{name: "attributes not listed, no record in the store", nullLists: true, want: []string{"ann@example.com", "bob@example.com", "carl@example.com", "ann@example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, apptest.Options{Twilio: twiliotest.Config{NullListAttributes: tt.nullLists}})
			q := e.Twilio.QueueSID()
			t0 := time.Now().Add(-time.Hour).UnixMilli()
			e.Twilio.AddWorker("ann@example.com", true, map[string]any{"lastAcceptedTaskTime": t0 + 2000, "skills": []string{"wine"},
				"big": json.Number("12345678901234567890")}, q)
			e.Twilio.AddWorker("bob@example.com", true, map[string]any{"contact_uri": "client:bob"}, q)
			e.Twilio.AddWorker("carl@example.com", true, map[string]any{"lastAcceptedTaskTime": t0 + 1000}, q)
			e.Twilio.AddWorker("dora@example.com", false, nil, q)
			e.Twilio.AddWorker("eve@example.com", true, nil) // not in the pool queue

			before := e.Clock.Now().UnixMilli()
			var got []string
			for i, from := range []string{"+33600000001", "+33600000002", "+33600000003", "+33600000004"} {
				conv := e.text(from, "AGENT").ConversationSID
				ws := e.Workers(conv)
				if len(ws) != 1 {
					t.Fatalf("conversation %d: workers %v", i, ws)
				}
				got = append(got, ws[0])
			}
			after := e.Clock.Now().UnixMilli()
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("assigned %v, want %v", got, tt.want)
			}
			// The update runs after the turn, in the background.
			var attrs struct {
				Last int64 `json:"lastAcceptedTaskTime"`
			}
			e.eventually(func() bool {
				ann, _ := e.Twilio.Worker("ann@example.com")
				return json.Unmarshal([]byte(ann.Attributes), &attrs) == nil && attrs.Last >= before
			}, "ann's lastAcceptedTaskTime is never moved to her claim")
			if attrs.Last < before || attrs.Last > after {
				t.Errorf("ann's lastAcceptedTaskTime = %d, want the time of her claim, in [%d, %d]", attrs.Last, before, after)
			}
			ann, _ := e.Twilio.Worker("ann@example.com")
			if !strings.Contains(ann.Attributes, `"big":12345678901234567890`) || !strings.Contains(ann.Attributes, `"skills":["wine"]`) {
				t.Errorf("ann's other attributes changed: %s", ann.Attributes)
			}
			for _, r := range e.requests(http.MethodPost, "/v1/Workspaces/*/Workers/*") {
				if r.Header.Get("If-Match") == "" {
					t.Errorf("worker update without If-Match: %s", r.Path)
				}
			}
		})
	}
}
