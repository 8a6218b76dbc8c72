package twilioflow

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/conversation"
	"github.com/experthub/experthub/internal/twilio"
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
