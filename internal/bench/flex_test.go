package bench

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/function"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

// flexCustomer is the sample customer BenchmarkFlexEvents hands to Flex.
const flexCustomer = "+33679500001"

// flexApp is an Expert Hub with a Flex contact center, on the in-memory
// store, both Twilio accounts answering after twilioLatency, and two
// experts in the Frontline pool.
func flexApp(b *testing.B) *apptest.Harness {
	h := newApp(b, apptest.Options{Flex: true})
	q := h.Twilio.QueueSID()
	h.Twilio.AddWorker("ann@example.com", true, map[string]any{"expertise": []string{"watches"}}, q)
	h.Twilio.AddWorker("bob@example.com", true, map[string]any{"expertise": []string{"jewellery"}}, q)
	h.Twilio.SetLatency(twilioLatency)
	h.Flex.SetLatency(twilioLatency)
	return h
}

// BenchmarkFlexToken times the experts function (GET, the Flex panel's
// list) called by a Flex user with their token in X-Flex-JWE, through the
// App's gate (internal/flexauth): cached, the same token every request;
// first-use, a new token each request, which the gate validates with the
// Flex account (one round trip). secret is the same request with the
// server's bearer secret: the path without a token check.
// validations/op counts the fake's Tokens/validate requests.
func BenchmarkFlexToken(b *testing.B) {
	h := flexApp(b)
	for _, v := range []string{"secret", "cached", "first-use"} {
		b.Run(v, func(b *testing.B) {
			token := h.Flex.MintFlexToken(apptest.FlexAgent, []string{"agent"}, time.Hour)
			experts(b, h, v, token) // the names' cache and the token, warm
			before := flexValidations(h)
			b.ResetTimer()
			for b.Loop() {
				if v == "first-use" {
					b.StopTimer()
					token = h.Flex.MintFlexToken(apptest.FlexAgent, []string{"agent"}, time.Hour)
					b.StartTimer()
				}
				experts(b, h, v, token)
			}
			b.ReportMetric(float64(flexValidations(h)-before)/float64(b.N), "validations/op")
		})
	}
}

// experts gets the experts function's list, with the bearer secret or
// the Flex token, and fails unless it is 200.
func experts(b *testing.B, h *apptest.Harness, v, token string) {
	req, err := http.NewRequest(http.MethodGet, h.URL(function.Experts), nil)
	if err != nil {
		b.Fatal(err)
	}
	if v == "secret" {
		req.Header.Set("Authorization", "Bearer "+apptest.HandoffSecret)
	} else {
		req.Header.Set("X-Flex-JWE", token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("experts (%s): %d %s", v, resp.StatusCode, body)
	}
}

// flexValidations counts the Flex account's token validations.
func flexValidations(h *apptest.Harness) int {
	n := 0
	for _, r := range h.Flex.Requests() {
		if strings.HasSuffix(r.Path, "/Tokens/validate") {
			n++
		}
	}
	return n
}

// BenchmarkFlexEvents times the flex-events function's answer to a signed
// task.completed event about a conversation the bot handed to Flex: each
// operation hands a new conversation over (untimed), completes its Flex
// task (the fake posts the event and returns with the 204), and waits
// until the Frontline conversation is closed. ns/op is the answer's time
// alone (the settling is queued, not awaited); ms-to-closed is from the
// event's sending until the fake has the conversation closed. The wait is
// timed so that b.N stays at the few operations the untimed handovers
// allow.
func BenchmarkFlexEvents(b *testing.B) {
	h := flexApp(b)
	h.Flex.SetEventCallback(h.URL(function.FlexEvents))
	var answered, closed time.Duration
	for b.Loop() {
		b.StopTimer()
		conv := h.Text(b, flexCustomer, "support please").ConversationSID
		tasks := h.Flex.Tasks()
		task := tasks[len(tasks)-1]
		if !strings.Contains(task.Attributes, conv) {
			b.Fatalf("no Flex task for %s: %+v", conv, task)
		}
		b.StartTimer()

		start := time.Now()
		h.Flex.SetTaskStatus(task.SID, "completed", "resolved")
		answered += time.Since(start)
		for c, _ := h.Twilio.Conversation(conv); c.State != "closed"; c, _ = h.Twilio.Conversation(conv) {
			if time.Since(start) > time.Minute {
				b.Fatalf("conversation %s not closed a minute after its task completed", conv)
			}
			time.Sleep(time.Millisecond)
		}
		closed += time.Since(start)
	}
	b.StopTimer()
	for _, d := range h.Flex.Deliveries() {
		if d.Target == twiliotest.TargetEvents && d.Status != http.StatusNoContent {
			b.Fatalf("flex-events answered %s with %d %s", d.EventType, d.Status, d.Body)
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(answered.Nanoseconds())/n, "ns/op")
	b.ReportMetric(ms(closed)/n, "ms-to-closed")
}
