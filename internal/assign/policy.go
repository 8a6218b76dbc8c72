package assign

import (
	"fmt"
	"slices"
	"strings"
)

// Step is a step of the routing policy (ROUTING_POLICY): who a new
// conversation goes to, tried in order until one decides.
type Step string

// The steps of a routing policy.
const (
	Advisor Step = "advisor" // the customer's advisor (the CRM's worker field)
	Last    Step = "last"    // the worker the customer last spoke with
	Bot     Step = "bot"     // the bot's menu; always answers, so always last
)

// Returning is what the welcome does for a customer who spoke with a
// worker before (RETURNING_CUSTOMER).
type Returning string

// The returning-customer modes.
const (
	ReturningOff   Returning = "off"
	ReturningOffer Returning = "offer" // the welcome suggests the last worker
	ReturningRoute Returning = "route" // the last worker is added at once: Last in the policy
)

// ParseReturning reads a returning-customer mode, case-insensitively; ""
// is ReturningOff.
func ParseReturning(s string) (Returning, error) {
	switch r := Returning(strings.ToLower(strings.TrimSpace(s))); r {
	case "":
		return ReturningOff, nil
	case ReturningOff, ReturningOffer, ReturningRoute:
		return r, nil
	}
	return ReturningOff, fmt.Errorf("%q is not one of %s, %s, %s", s, ReturningOff, ReturningOffer, ReturningRoute)
}

// ParsePolicy reads a routing policy, comma-separated: known steps, each
// once, Bot (the one that always answers) last and implied. returning
// ReturningRoute, Last's older spelling, adds Last before Bot when
// missing. It returns what is wrong with s, one problem a line.
func ParsePolicy(s string, returning Returning) ([]Step, []string) {
	var (
		out      []Step
		problems []string
	)
	for item := range strings.SplitSeq(strings.ToLower(s), ",") {
		step := Step(strings.TrimSpace(item))
		switch {
		case step == "":
			continue
		case step != Advisor && step != Last && step != Bot:
			problems = append(problems, fmt.Sprintf("%q is not one of %s, %s, %s", step, Advisor, Last, Bot))
		case slices.Contains(out, step):
			problems = append(problems, fmt.Sprintf("%s is given twice", step))
		case slices.Contains(out, Bot):
			problems = append(problems, fmt.Sprintf("%s comes after bot, which always answers", step))
		default:
			out = append(out, step)
		}
	}
	return Policy(out, returning), problems
}

// Policy completes a policy: Bot last, and Last before it for
// ReturningRoute. An empty policy is Bot alone.
func Policy(steps []Step, returning Returning) []Step {
	out := slices.DeleteFunc(slices.Clone(steps), func(s Step) bool { return s == Bot })
	if returning == ReturningRoute && !slices.Contains(out, Last) {
		out = append(out, Last)
	}
	return append(out, Bot)
}
