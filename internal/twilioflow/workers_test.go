package twilioflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/conversation"
	"github.com/experthub/experthub/internal/twilio"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

// TestWorker: a worker's areas (lower-cased, trimmed, each once) and
// lastAcceptedTaskTime are read from their attributes; a worker listed
// without attributes is not described.
func TestWorker(t *testing.T) {
	tests := []struct {
		attributes string
		want       []string
		described  bool
		last       int64
	}{
		{``, nil, false, 0},
		{`null`, nil, true, 0},
		{`not json`, nil, true, 0},
		{`{"expertise": "watches"}`, nil, true, 0},
		{`{"expertise": [" Watches ", "bridal", "WATCHES", 3, ""]}`, []string{"watches", "bridal"}, true, 0},
		{`{"lastAcceptedTaskTime": "1700000000000"}`, nil, true, 1700000000000},
	}
	for _, tt := range tests {
		w := worker(twilio.Worker{Identity: "ann@example.com", SID: "WK1", Available: true, Attributes: tt.attributes})
		if !slices.Equal(w.Areas, tt.want) || w.Described != tt.described || w.Identity != "ann@example.com" || !w.Available {
			t.Errorf("worker(%q) = %+v, want areas %q, described %v", tt.attributes, w, tt.want, tt.described)
		}
		if want := tt.last; want != 0 && !w.LastAccepted.Equal(time.UnixMilli(want)) || want == 0 && !w.LastAccepted.IsZero() {
			t.Errorf("worker(%q).LastAccepted = %v, want %d ms", tt.attributes, w.LastAccepted, want)
		}
	}
}

// TestMapErr: Twilio's errors match the flow's, and keep their own.
func TestMapErr(t *testing.T) {
	tests := []struct {
		err, want error
	}{
		{fmt.Errorf("fetch: %w", twilio.ErrNotFound), conversation.ErrNotFound},
		{twilio.ErrParticipantExists, conversation.ErrExists},
		{twilio.ErrBindingInUse, conversation.ErrExists},
		{fmt.Errorf("post: %w", twilio.ErrUnclear), conversation.ErrUnclear},
	}
	for _, tt := range tests {
		got := mapErr(tt.err)
		if !errors.Is(got, tt.want) || !errors.Is(got, tt.err) || got.Error() != tt.err.Error() {
			t.Errorf("mapErr(%v) = %v: matches %v %v, itself %v", tt.err, got, tt.want, errors.Is(got, tt.want), errors.Is(got, tt.err))
		}
	}
	if err := errors.New("store down"); mapErr(err) != err || errors.Is(mapErr(err), conversation.ErrRefused) {
		t.Error("an error of no Twilio kind changed")
	}
}

// TestRecordAccepted: the worker's lastAcceptedTaskTime is merged into
// their other attributes, kept exactly, with If-Match; a worker who
// changed between the read and the write (412) is read, merged and
// written again; a later time is never moved back.
func TestRecordAccepted(t *testing.T) {
	e := newNamesEnv(t, twiliotest.Config{})
	e.fake.AddWorker("ann@example.com", true, map[string]any{"team": "wine", "big": json.Number("12345678901234567890")}, e.fake.QueueSID())
	ann, _ := e.fake.Worker("ann@example.com")
	path := "/v1/Workspaces/" + e.fake.WorkspaceSID() + "/Workers/" + ann.SID
	e.fake.FailNext(http.MethodPost, path, http.StatusPreconditionFailed, 0)
	at := time.UnixMilli(1_700_000_000_000)
	if err := e.w.RecordAccepted(context.Background(), ann.SID, at); err != nil {
		t.Fatal(err)
	}
	ann, _ = e.fake.Worker("ann@example.com")
	for _, want := range []string{`"lastAcceptedTaskTime":1700000000000`, `"team":"wine"`, `"big":12345678901234567890`} {
		if !strings.Contains(ann.Attributes, want) {
			t.Errorf("attributes %s lack %s", ann.Attributes, want)
		}
	}
	var posts, gets int
	for _, r := range e.fake.Requests() {
		switch {
		case r.Path != path:
		case r.Method == http.MethodPost:
			posts++
			if r.Header.Get("If-Match") == "" {
				t.Error("worker update without If-Match")
			}
		case r.Method == http.MethodGet:
			gets++
		}
	}
	if posts != 2 || gets != 2 {
		t.Errorf("%d fetches and %d updates, want 2 and 2: the refused one and the retry", gets, posts)
	}
	e.fake.ClearRequests()
	if err := e.w.RecordAccepted(context.Background(), ann.SID, at.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, r := range e.fake.Requests() {
		if r.Method == http.MethodPost {
			t.Errorf("an earlier time was written: %s", r.Path)
		}
	}
}
