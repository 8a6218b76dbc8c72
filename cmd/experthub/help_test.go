package main

import (
	"errors"
	"strings"
	"testing"
)

// TestHelpExitsZero: help asked for, of the command or of any
// subcommand, is printed and is no error (exit status 0); a flag that
// does not exist still is.
func TestHelpExitsZero(t *testing.T) {
	tests := []struct {
		args  []string
		shows string // a flag or word the help names
	}{
		{[]string{"help"}, "experthub doctor"},
		{[]string{"-h"}, "experthub doctor"},
		{[]string{"--help"}, "experthub doctor"},
		{[]string{"serve", "--help"}, "-host"},
		{[]string{"sync", "-h"}, "-allow-empty"},
		{[]string{"chat", "--help"}, "-from"},
		{[]string{"deploy", "--help"}, "-project"},
		{[]string{"queue-fake", "--help"}, "-max-attempts"},
		{[]string{"sandbox", "--help"}, "-latency"},
		{[]string{"front", "--help"}, "-addr"},
		{[]string{"setup", "--help"}, "setup twilio"},
		{[]string{"setup", "twilio", "--help"}, "-dry-run"},
		{[]string{"setup", "twilio", "-h"}, "-take-event-callback"},
		{[]string{"doctor", "--help"}, "-base-url"},
		{[]string{"doctor", "-h"}, "-environment"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr strings.Builder
			if err := run(t.Context(), tt.args, strings.NewReader(""), &stdout, &stderr); err != nil {
				t.Errorf("run = %v, want nil (exit status 0)", err)
			}
			if out := stdout.String() + stderr.String(); !strings.Contains(out, tt.shows) {
				t.Errorf("help does not show %q:\n%s", tt.shows, out)
			}
		})
	}
	for _, args := range [][]string{{"doctor", "--no-such-flag"}, {"setup", "twilio", "--no-such-flag"}, {"setup"}, {"sync", "extra"}} {
		var out strings.Builder
		if err := run(t.Context(), args, strings.NewReader(""), &out, &out); !errors.Is(err, errUsage) {
			t.Errorf("run %q = %v, want errUsage", args, err)
		}
	}
}
