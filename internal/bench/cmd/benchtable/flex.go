package main

import (
	"fmt"
	"strings"
	"time"
)

// The contact center's targets: a cached Flex token adds less than
// flexCheckBudget to a request, and flex-events answers a task event
// within flexEventsBudget (Twilio's event callback gives up after 15 s,
// and the settling is queued, not awaited).
const (
	flexCheckBudget  = time.Millisecond
	flexEventsBudget = 100 * time.Millisecond
)

// flex writes BenchmarkFlexToken and BenchmarkFlexEvents: the Flex
// user's token check on the experts function, and the flex-events
// function's answer.
func (r *report) flex(t *strings.Builder) []target {
	r.section(t, 12, "Contact center: Flex token check and flex-events")
	const p = "BenchmarkFlexToken/"
	fmt.Fprintf(t, "The experts function (GET, the Flex panel's list of experts) through the App's gate (`internal/flexauth`), both Twilio accounts "+
		"answering after %v: with the server's bearer secret (no token check), with a Flex user's token in `X-Flex-JWE` already checked "+
		"(the same token every request), and with a new token each request, which the gate validates with the Flex account "+
		"(`POST …/Tokens/validate`, counted in the fake):\n\n", r.twilioLatency)
	t.WriteString("| Caller | time per request | token validations per request |\n|---|--:|--:|\n")
	for _, v := range []struct{ name, label string }{
		{"secret", "bearer secret (no token check)"},
		{"cached", "Flex token, cached"},
		{"first-use", "Flex token, first use"},
	} {
		fmt.Fprintf(t, "| %s | %s | %s |\n", v.label, r.dur(p+v.name), r.metric(p+v.name, "validations/op", "%.2g"))
	}
	cachedCost, firstCost := r.diff(p+"cached", p+"secret"), r.diff(p+"first-use", p+"cached")
	fmt.Fprintf(t, "\nWith a cached token a request took %s than with the secret (the check hashes the token and looks it up in memory); "+
		"with a new token, %s than with a cached one (one round trip to the Flex account).\n\n", cachedCost, firstCost)

	const e = "BenchmarkFlexEvents"
	t.WriteString("A signed `task.completed` event of the Flex task of a conversation the bot handed over, posted by the fake to the " +
		"flex-events function: its answer, and the time from the event's sending until the Frontline conversation is closed " +
		"(the queued work posts the closing message and closes it):\n\n")
	t.WriteString("| Event | answer (204) | conversation closed |\n|---|--:|--:|\n")
	fmt.Fprintf(t, "| task.completed | %s | %s |\n\n", r.dur(e), r.metric(e, "ms-to-closed", "%.1f ms"))

	check := target{what: fmt.Sprintf("Flex token check: a cached token adds < %d ms and no Twilio request; a first use one validation", flexCheckBudget.Milliseconds()), measured: "not measured"}
	cached, ok1 := r.res.get(p+"cached", "validations/op")
	first, ok2 := r.res.get(p+"first-use", "validations/op")
	c, ok3 := r.res.get(p+"cached", "ns/op")
	s, ok4 := r.res.get(p+"secret", "ns/op")
	if ok1 && ok2 && ok3 && ok4 {
		check.measured = fmt.Sprintf("cached: %s than the secret, %.2g validations per request; first use %.2g", cachedCost, cached, first)
		check.met = ptr(c-s < float64(flexCheckBudget) && cached == 0 && first == 1)
	}
	events := target{what: fmt.Sprintf("flex-events answers a task event < %d ms (its work is queued)", flexEventsBudget.Milliseconds()), measured: "not measured"}
	if v, ok := r.res.get(e, "ns/op"); ok {
		events.measured = fmt.Sprintf("%s (conversation closed after %s)", r.dur(e), r.metric(e, "ms-to-closed", "%.1f ms"))
		events.met = ptr(v < float64(flexEventsBudget))
	}
	return []target{check, events}
}

// diff says how much more or less time per operation a took than b.
func (r *report) diff(a, b string) string {
	x, ok1 := r.res.get(a, "ns/op")
	y, ok2 := r.res.get(b, "ns/op")
	if !ok1 || !ok2 {
		return "—"
	}
	if x < y {
		return fmtDur(y-x) + " less"
	}
	return fmtDur(x-y) + " more"
}
