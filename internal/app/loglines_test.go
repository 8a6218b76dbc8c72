package app_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/function"
	"github.com/experthub/experthub/internal/taskqueue"
)

// maxLogLine bounds a log line here: a dozen fields of at most
// logging.MaxField characters each, escaped.
const maxLogLine = 8 << 10

// TestLogLinesBounded sends taskrouter-events a signed worker event and
// a forged one whose fields are 100 KB long: the event is logged, and no
// line is longer than a few fields.
func TestLogLinesBounded(t *testing.T) {
	h := apptest.New(t, apptest.Options{})
	big := strings.Repeat("W", 100*1024)
	event := url.Values{
		"EventType":          {"worker.activity.update"},
		"Sid":                {"EV" + big},
		"WorkerSid":          {"WK" + big},
		"WorkerActivityName": {big},
		"TimestampMs":        {big},
	}
	if rec := h.Serve("taskrouter-events", h.SignedForm("taskrouter-events", event)); rec.Code >= 500 {
		t.Fatalf("signed event: %d %s", rec.Code, rec.Body)
	}
	forged := h.SignedForm("taskrouter-events", event)
	forged.Header.Set("X-Twilio-Signature", "forged")
	forged.Header.Set("User-Agent", big)
	forged.URL.RawQuery = "q=" + big
	if rec := h.Serve("taskrouter-events", forged); rec.Code != http.StatusForbidden {
		t.Errorf("forged event: %d, want 403", rec.Code)
	}
	h.WaitWork(t)

	logs := h.Logs.String()
	for i, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if len(line) > maxLogLine {
			t.Errorf("log line %d is %d bytes, over %d: %.300s…", i+1, len(line), maxLogLine, line)
		}
	}
	// The worker's SID, cut, with its length.
	if len(h.Logs.Lines("worker event")) == 0 || !strings.Contains(logs, "(102402 chars)") {
		t.Errorf("the event's fields were not logged, cut:\n%.2000s", logs)
	}
}

// TestRefusalsAreWarnings: what anybody can send — a forged token to the
// work queue's consumer or to the scheduler's sweep, on a deployment
// with or without the scheduler's account — and a task that is not a
// job are WARN lines, never ERROR: ERROR is for lost customer work.
func TestRefusalsAreWarnings(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  config.Env
	}{
		{"configured", nil},
		{"no scheduler account", config.Env{"SYNC_SCHEDULER_SERVICE_ACCOUNT": ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := apptest.New(t, apptest.Options{CloudTasks: true, Env: tc.env, LogLevel: "info"})
			for _, name := range []function.Name{function.Work, function.TaskRouterEvents, function.Sync} {
				// Forged, minted for another function, 100 KB.
				for _, token := range []string{"forged", h.SchedulerToken("handoff"), strings.Repeat("x", 100*1024)} {
					r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{}`))
					r.Header.Set("Content-Type", "application/json")
					r.Header.Set("Authorization", "Bearer "+token)
					r.Header.Set(taskqueue.HeaderTaskName, strings.Repeat("t", 100*1024))
					if rec := h.Serve(name, r); rec.Code != http.StatusUnauthorized && rec.Code != http.StatusForbidden {
						t.Errorf("%s with a forged token: %d, want 401 or 403", name, rec.Code)
					}
				}
			}
			// Through the queue, with its identity: bodies that are not jobs.
			for i, body := range []string{`{"kind":""}`, `[1,2]`, `{"kind":7}`} {
				if err := h.App.Queue.Enqueue(t.Context(), taskqueue.Task{Name: "not-a-job-" + string(rune('a'+i)), Body: []byte(body)}); err != nil {
					t.Fatal(err)
				}
			}
			h.WaitWork(t)

			warned := 0
			for _, line := range strings.Split(strings.TrimSpace(h.Logs.String()), "\n") {
				var rec map[string]any
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("%v: %s", err, line)
				}
				switch rec["severity"] {
				case "ERROR":
					t.Errorf("ERROR line: %.400s", line)
				case "WARNING":
					warned++
				}
			}
			if n := len(h.Logs.Lines("the task is not a job")); n != 3 {
				t.Errorf("%d tasks dropped as not jobs, want 3", n)
			}
			if warned < 9+3 {
				t.Errorf("%d WARN lines, want one per refusal and per dropped task (12)", warned)
			}
		})
	}
}
