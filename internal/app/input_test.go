package app_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/experthub/experthub/internal/app/apptest"
)

// TestBadInput: malformed or unknown requests get a clear 4xx and a log
// line, never a panic or a 5xx.
func TestBadInput(t *testing.T) {
	e := newEnv(t, apptest.Options{})
	e.workers("ann@example.com")
	conv := e.text(maria, "hi").ConversationSID
	const unknownConv = "CH0000000000000000000000000000dead"
	tests := []struct {
		name, function string
		params         url.Values
		want           int
		wantLog        string
	}{
		{"routing without ConversationSid", "routing", url.Values{"MessagingBinding.Address": {maria}}, 400, "routing callback without a valid ConversationSid"},
		{"routing with a malformed ConversationSid", "routing", url.Values{"ConversationSid": {"CH../../x"}}, 400, "routing callback without a valid ConversationSid"},
		{"routing for an unknown conversation", "routing", url.Values{"ConversationSid": {unknownConv}}, 404, "conversation work for something that no longer exists"},
		{"message without MessageSid", "post-event", url.Values{"EventType": {"onMessageAdded"}, "ConversationSid": {conv}, "Author": {maria}, "Body": {"AGENT"}}, 400, "onMessageAdded without a valid"},
		{"message in an unknown conversation", "post-event", url.Values{"EventType": {"onMessageAdded"}, "ConversationSid": {unknownConv},
			"MessageSid": {"IM0000000000000000000000000000dead"}, "Author": {maria}, "Body": {"AGENT"}}, 404, "conversation work for something that no longer exists"},
		{"participant without ParticipantSid", "post-event", url.Values{"EventType": {"onParticipantAdded"}, "ConversationSid": {conv}}, 400, "onParticipantAdded without a valid"},
		{"unknown participant", "post-event", url.Values{"EventType": {"onParticipantAdded"}, "ConversationSid": {conv},
			"ParticipantSid": {"MB0000000000000000000000000000dead"}, "MessagingBinding.Address": {maria}}, 404, "conversation work for something that no longer exists"},
		{"other post event", "post-event", url.Values{"EventType": {"onConversationStateUpdated"}, "ConversationSid": {conv}}, 200, ""},
		{"no event", "post-event", url.Values{}, 200, ""},
		{"message from the app", "post-event", url.Values{"EventType": {"onMessageAdded"}, "ConversationSid": {conv},
			"MessageSid": {"IM0000000000000000000000000000beef"}, "Author": {"ann@example.com"}, "Body": {"AGENT"}, "Source": {"SDK"}}, 200, ""},
		{"message from system", "post-event", url.Values{"EventType": {"onMessageAdded"}, "ConversationSid": {conv},
			"MessageSid": {"IM0000000000000000000000000000beef"}, "Author": {"system"}, "Body": {"AGENT"}}, 200, ""},
		{"message from no participant", "post-event", url.Values{"EventType": {"onMessageAdded"}, "ConversationSid": {conv},
			"MessageSid": {"IM0000000000000000000000000000bee0"}, "Author": {"integration"}, "Body": {"AGENT"}, "Source": {"API"}}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.Transcript(conv))
			status, body := e.post(tt.function, tt.params)
			if status != tt.want {
				t.Errorf("%s: %d %s, want %d", tt.function, status, body, tt.want)
			}
			if !strings.HasPrefix(body, "{") {
				t.Errorf("answer is not JSON: %s", body)
			}
			if tt.wantLog != "" && len(e.Logs.Lines(tt.wantLog)) == 0 {
				t.Errorf("no log line %q", tt.wantLog)
			}
			if n := len(e.Transcript(conv)); n != before {
				t.Errorf("the bot answered: %v", e.Transcript(conv)[before:])
			}
		})
	}
	if ws := e.Workers(conv); len(ws) != 0 {
		t.Errorf("workers added: %v", ws)
	}
	if strings.Contains(e.Logs.String(), maria) {
		t.Error("the customer's number is in the logs unmasked")
	}
}
