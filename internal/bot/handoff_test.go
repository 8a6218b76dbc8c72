package bot

import (
	"strings"
	"testing"
)

// TestHandoffMessage: the expert's name when known, neutral words
// otherwise, never an e-mail address.
func TestHandoffMessage(t *testing.T) {
	for _, tt := range []struct {
		message, name string
		want          string
	}{
		{"", "Ann Lee", "Ann Lee will continue with you here."},
		{"", "", "One of our experts will continue with you here."},
		{"", "  ", "One of our experts will continue with you here."},
		{"", "ann@example.com", "One of our experts will continue with you here."},
		{"Hello! {name} takes over.", "", "Hello! one of our experts takes over."},
		{"Hello! {name} takes over.", "Bob", "Hello! Bob takes over."},
		{"Your expert will answer here.", "Bob", "Your expert will answer here."},
	} {
		got := HandoffMessage(tt.message, tt.name)
		if got != tt.want {
			t.Errorf("HandoffMessage(%q, %q) = %q, want %q", tt.message, tt.name, got, tt.want)
		}
		if strings.Contains(got, "@") {
			t.Errorf("HandoffMessage(%q, %q) = %q holds an e-mail address", tt.message, tt.name, got)
		}
	}
	if got := HandoffMessage("", strings.Repeat("n", 500)); len(got) > 200 {
		t.Errorf("a 500-character name made a %d-byte message", len(got))
	}
}
