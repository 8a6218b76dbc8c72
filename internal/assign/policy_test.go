package assign_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/experthub/experthub/internal/assign"
)

func TestParsePolicy(t *testing.T) {
	tests := []struct {
		policy    string
		returning assign.Returning
		want      string
		problem   string
	}{
		{"", assign.ReturningOff, "[bot]", ""},
		{"", assign.ReturningRoute, "[last bot]", ""},
		{"", assign.ReturningOffer, "[bot]", ""},
		{" Advisor , LAST ", assign.ReturningOff, "[advisor last bot]", ""},
		{"last,advisor", assign.ReturningOff, "[last advisor bot]", ""},
		{"advisor", assign.ReturningRoute, "[advisor last bot]", ""},
		{"last,bot", assign.ReturningRoute, "[last bot]", ""},
		{"advisor,boss", assign.ReturningOff, "", `"boss" is not one of advisor, last, bot`},
		{"advisor,advisor", assign.ReturningOff, "", "advisor is given twice"},
		{"bot,advisor", assign.ReturningOff, "", "advisor comes after bot"},
	}
	for _, tt := range tests {
		got, problems := assign.ParsePolicy(tt.policy, tt.returning)
		if tt.problem != "" {
			if len(problems) != 1 || !strings.Contains(problems[0], tt.problem) {
				t.Errorf("ParsePolicy(%q): problems %q, want %q", tt.policy, problems, tt.problem)
			}
			continue
		}
		if len(problems) > 0 || fmt.Sprint(got) != tt.want {
			t.Errorf("ParsePolicy(%q, %s) = %v %q, want %s", tt.policy, tt.returning, got, problems, tt.want)
		}
	}
}

func TestParseReturning(t *testing.T) {
	for in, want := range map[string]assign.Returning{"": assign.ReturningOff, " Offer": assign.ReturningOffer, "route": assign.ReturningRoute} {
		if got, err := assign.ParseReturning(in); err != nil || got != want {
			t.Errorf("ParseReturning(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := assign.ParseReturning("always"); err == nil {
		t.Error(`ParseReturning("always") accepted`)
	}
}
