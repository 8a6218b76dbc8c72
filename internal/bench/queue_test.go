package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/crm/crmtest"
	"github.com/experthub/experthub/internal/deployment"
	"github.com/experthub/experthub/internal/taskqueue/engine"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

// recommendedFilters are the Conversations webhook filters package
// conversation recommends: onMessageAdd left out, as BenchmarkBotTurn does.
var recommendedFilters = []string{"onConversationAdd", "onParticipantAdded", "onMessageAdded"}

// leftToQueue is the log line of a webhook whose own attempt failed and
// whose work the queue finishes (conversation.Flow.accept).
const leftToQueue = "conversation work left to the queue"

// newLoggedApp is newApp keeping the App's log lines (info and above) in
// the returned buffer, where the benchmarks count what the webhooks left
// to the queue; EXPERTHUB_BENCH_LOG=1 copies them to stderr too.
func newLoggedApp(b *testing.B, opts apptest.Options) (*apptest.Harness, *apptest.Buffer) {
	b.Helper()
	logs := &apptest.Buffer{}
	opts.LogLevel, opts.LogOutput = "info", logs
	if os.Getenv("EXPERTHUB_BENCH_LOG") == "1" {
		opts.LogOutput = io.MultiWriter(logs, os.Stderr)
	}
	return apptest.New(b, opts), logs
}

// BenchmarkBurst: 200 customers write "AGENT" at once to three App
// instances sharing the Firestore emulator, a Cloud Tasks fake and a fake
// Twilio (50 ms a request) with 200 available workers, the deployed
// configuration otherwise (HANDLER_TIMEOUT 4 s, WORK_DELAY 5 s). One
// iteration is the whole burst, until the queue is idle: the customers'
// texts, every webhook, and the safety-net tasks.
//
// It reports the onMessageAdded webhooks' answer times (p50, p99), the
// time from the burst's start until the last worker joined, and what came
// of it: connecting replies, distinct workers, duplicates (a second reply
// or worker in a conversation, a worker in two), conversations left
// without a worker, and how many webhooks left their work to the queue.
func BenchmarkBurst(b *testing.B) {
	benchmarkBurst(b, 200, engine.RetryConfig{})
}

// BenchmarkBurst400 is BenchmarkBurst with 400 customers and 400 workers,
// and the deployed queue's retry policy (internal/deployment: backoff from
// 1 s, doubling to 16 s, then up to 30 s) instead of the test harness's
// quick retries: the work the webhooks leave to the queue waits as long
// as it would in production. It also reports when each customer was
// served (the connecting reply posted and the worker joined), from the
// burst's start: p50 and max.
func BenchmarkBurst400(b *testing.B) {
	benchmarkBurst(b, 400, deployedRetry(b))
}

// deployedRetry is the retry policy of the deployed work queue.
func deployedRetry(b *testing.B) engine.RetryConfig {
	d, err := deployment.Load()
	if err != nil {
		b.Fatal(err)
	}
	retry, _, err := d.Queues["work"].Dispatch()
	if err != nil {
		b.Fatal(err)
	}
	return retry
}

func benchmarkBurst(b *testing.B, n int, retry engine.RetryConfig) {
	customers := crmtest.GenerateCustomers(n, time.Now())
	var (
		acks, served []time.Duration
		sum          burstResult
	)
	for range b.N {
		b.StopTimer()
		r, a := runBurst(b, customers, retry)
		sum.add(r)
		acks = append(acks, a...)
		served = append(served, r.served...)
	}
	nf := float64(b.N)
	b.ReportMetric(ms(percentile(acks, 50)), "ms-ack-p50")
	b.ReportMetric(ms(percentile(acks, 99)), "ms-ack-p99")
	b.ReportMetric(ms(sum.lastWorker)/nf, "ms-last-worker")
	b.ReportMetric(ms(percentile(served, 50)), "ms-served-p50")
	b.ReportMetric(ms(percentile(served, 100)), "ms-served-max")
	b.ReportMetric(float64(len(served))/nf, "served")
	b.ReportMetric(float64(sum.replies)/nf, "replies")
	b.ReportMetric(float64(sum.workers)/nf, "workers")
	b.ReportMetric(float64(sum.duplicates)/nf, "duplicates")
	b.ReportMetric(float64(sum.without)/nf, "without-worker")
	b.ReportMetric(float64(sum.queued)/nf, "left-to-queue")
	b.ReportMetric(float64(sum.webhooks)/nf, "webhooks")
	b.ReportMetric(float64(sum.failed)/nf, "failed-acks")
	b.ReportMetric(float64(sum.timedOut)/nf, "timed-out-acks")
	b.ReportMetric(nf, "bursts")
}

// burstResult is what came of one burst.
type burstResult struct {
	lastWorker time.Duration // burst start → the last worker joined
	replies    int           // connecting replies, one per conversation at most counted once
	workers    int           // distinct workers in the conversations
	duplicates int           // extra replies, extra workers in a conversation, workers in two
	without    int           // conversations without a worker
	queued     int           // webhooks that left their work to the queue
	webhooks   int           // webhooks delivered (routing and post-event)
	failed     int           // webhooks answered with an error or not at all
	timedOut   int           // webhooks Twilio gave up waiting for
	// served are, for each conversation that got its connecting reply
	// and a worker, the time from the burst's start until both were
	// there.
	served []time.Duration
}

func (s *burstResult) add(r burstResult) {
	s.lastWorker += r.lastWorker
	s.replies += r.replies
	s.workers += r.workers
	s.duplicates += r.duplicates
	s.without += r.without
	s.queued += r.queued
	s.webhooks += r.webhooks
	s.failed += r.failed
	s.timedOut += r.timedOut
}

// runBurst runs one burst on a fresh Expert Hub, timed from the customers'
// first text until the queue is idle, and returns its result and the
// onMessageAdded answer times. A zero retry is the test harness's quick
// retries.
func runBurst(b *testing.B, customers []crm.Customer, retry engine.RetryConfig) (burstResult, []time.Duration) {
	n := len(customers)
	h, logs := newLoggedApp(b, apptest.Options{
		Store: apptest.Firestore, Instances: 3, CloudTasks: true, Filters: recommendedFilters, TasksRetry: retry,
		Env: config.Env{"GOOGLE_CLOUD_PROJECT": firestoreProject(b, customers)["GOOGLE_CLOUD_PROJECT"]},
	})
	defer h.Close()
	for i := range n {
		h.Twilio.AddWorker(fmt.Sprintf("w%03d@example.com", i), true, nil, h.Twilio.QueueSID())
	}
	h.Twilio.SetLatency(twilioLatency)

	convs := make([]string, n)
	errs := make([]error, n)
	ready := make(chan struct{})
	var wg sync.WaitGroup
	for i, c := range customers {
		wg.Go(func() {
			<-ready
			res, err := h.Twilio.CustomerTexts(context.Background(), c.Channels[0].Value, proxyNumber, "AGENT")
			if err == nil && res.Rejected {
				err = fmt.Errorf("rejected: %+v", h.Twilio.Rejections())
			}
			convs[i], errs[i] = res.ConversationSID, err
		})
	}
	b.StartTimer()
	start := time.Now()
	close(ready)
	wg.Wait()
	h.WaitWork(b)
	b.StopTimer()
	for i, err := range errs {
		if err != nil {
			b.Fatalf("customer %d: %v", i, err)
		}
	}

	var r burstResult
	var acks []time.Duration
	for _, d := range h.Twilio.Deliveries() {
		if d.Target == twiliotest.TargetPre {
			continue
		}
		r.webhooks++
		if d.Err != nil || d.Status/100 != 2 {
			r.failed++
		}
		if d.TimedOut {
			r.timedOut++
		}
		if d.Target == twiliotest.TargetPost && d.EventType == "onMessageAdded" {
			acks = append(acks, d.End.Sub(d.Start))
		}
	}
	r.queued = len(logs.Lines(leftToQueue))
	convsOf := map[string][]string{} // worker → conversations
	for _, conv := range convs {
		replies := 0
		var replied, joined time.Time
		for _, m := range h.Twilio.Messages(conv) {
			if apptest.Promised(m) != "" {
				if replies == 0 {
					replied = m.DateCreated
				}
				replies++
			}
		}
		r.replies += min(replies, 1)
		r.duplicates += max(replies-1, 0)
		var workers []twiliotest.Participant
		for _, p := range h.Twilio.Participants(conv) {
			if p.Identity != "" {
				workers = append(workers, p)
				convsOf[p.Identity] = append(convsOf[p.Identity], conv)
				r.lastWorker = max(r.lastWorker, p.DateCreated.Sub(start))
				if joined.IsZero() {
					joined = p.DateCreated
				}
			}
		}
		if len(workers) == 0 {
			r.without++
		}
		if replies > 0 && len(workers) > 0 {
			r.served = append(r.served, latest(replied, joined).Sub(start))
		}
		r.duplicates += max(len(workers)-1, 0)
	}
	r.workers = len(convsOf)
	for w, cs := range convsOf {
		r.duplicates += len(cs) - 1
		if len(cs) > 1 {
			b.Logf("%s is in %d conversations: %v", w, len(cs), cs)
		}
	}
	return r, acks
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// percentile returns the p-th percentile of ds (nearest rank).
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(i-1, 0)]
}

// queuedWorkDelay is WORK_DELAY for the "queued" variants: the smallest
// delay worth configuring (WORK_DELAY must be positive), so the queue
// path's own cost shows.
const queuedWorkDelay = 100 * time.Millisecond

// BenchmarkEndToEnd times a customer's message until the bot's reply is
// created in Twilio (the fake, 50 ms a request): the one promising a
// worker for "AGENT", the menu for "hi", measured from the start of the
// onMessageAdded webhook to the reply's creation.
//
// "inline" is the normal path: the webhook does the work and the queue
// (in-process, or the Cloud Tasks fake) holds a safety net due
// WORK_DELAY (5 s) later. "queued" makes the webhook's own attempt fail —
// Twilio refuses the reply's first POST (400, which the client does not
// retry) — so the queue, due queuedWorkDelay later, does the work. As in
// BenchmarkBotTurn, each iteration is a customer who was welcomed before.
//
// ms-to-reply is the mean time to the reply, ms-ack the webhook's answer
// time, left-to-queue the webhooks per turn whose work the queue did.
func BenchmarkEndToEnd(b *testing.B) {
	customers := crmtest.GenerateCustomers(1000, time.Now())
	for _, sc := range []struct {
		name, body string
		reply      func(twiliotest.Message) bool
	}{
		{"agent", "AGENT", func(m twiliotest.Message) bool { return apptest.Promised(m) != "" }},
		{"menu", "hi", func(m twiliotest.Message) bool { return strings.HasPrefix(m.Body, bot.Menu) }},
	} {
		for _, path := range []string{"inline", "queued"} {
			for _, queue := range []string{"local", "cloudtasks"} {
				b.Run(sc.name+"/"+path+"/"+queue, func(b *testing.B) {
					env := config.Env{"GOOGLE_CLOUD_PROJECT": firestoreProject(b, customers)["GOOGLE_CLOUD_PROJECT"]}
					delay := config.DefaultWorkDelay
					if path == "queued" {
						delay = queuedWorkDelay
						env["WORK_DELAY"] = delay.String()
					}
					h, logs := newLoggedApp(b, apptest.Options{
						Store: apptest.Firestore, CloudTasks: queue == "cloudtasks",
						Filters: recommendedFilters, Env: env,
					})
					e := &endToEnd{h: h, logs: logs, turn: newTurnBench(h.Twilio, customers),
						body: sc.body, reply: sc.reply, failInline: path == "queued"}
					e.run(b)
					b.ReportMetric(ms(delay), "ms-work-delay")
				})
			}
		}
	}
}

// endToEnd is one variant of BenchmarkEndToEnd.
type endToEnd struct {
	h          *apptest.Harness
	logs       *apptest.Buffer
	turn       *turnBench                    // the customers and the fake's workers
	body       string                        // the customer's text
	reply      func(twiliotest.Message) bool // whether the bot's reply is the one wanted
	failInline bool                          // make the webhook's own attempt fail
}

func (e *endToEnd) run(b *testing.B) {
	ctx := context.Background()
	fake := e.h.Twilio
	var toReply, ack time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		if e.turn.next == len(e.turn.customers) {
			b.Fatal("out of customers")
		}
		from := e.turn.customers[e.turn.next].Channels[0].Value
		e.turn.next++
		first, err := fake.CustomerTexts(ctx, from, proxyNumber, "hello")
		if err != nil || first.Rejected {
			b.Fatalf("first text: %+v, %v", first, err)
		}
		conv := first.ConversationSID
		if e.failInline {
			// The welcome's and the hello's safety nets first, so that
			// the turn's own task finds the conversation free.
			e.h.WaitWork(b)
			fake.FailNext(http.MethodPost, "/v1/Conversations/"+conv+"/Messages", http.StatusBadRequest, 0)
		}
		b.StartTimer()

		res, err := fake.CustomerTexts(ctx, from, proxyNumber, e.body)
		if err != nil || res.Rejected {
			b.Fatalf("turn: %+v, %v", res, err)
		}
		reply := e.waitReply(b, conv, res.Message)

		b.StopTimer()
		d, ok := delivery(fake, res.Message.SID)
		if !ok {
			b.Fatalf("no onMessageAdded delivery of %s", res.Message.SID)
		}
		toReply += reply.DateCreated.Sub(d.Start)
		ack += d.End.Sub(d.Start)
		if e.failInline {
			e.h.WaitWork(b)
		}
	}
	n := float64(b.N)
	b.ReportMetric(ms(toReply)/n, "ms-to-reply")
	b.ReportMetric(ms(ack)/n, "ms-ack")
	b.ReportMetric(float64(len(e.logs.Lines(leftToQueue)))/n, "left-to-queue")
}

// waitReply waits for the bot's reply to msg: the first system message
// after it. Inline, it is there when the fake is done delivering; through
// the queue it comes later.
func (e *endToEnd) waitReply(b *testing.B, conv string, msg twiliotest.Message) twiliotest.Message {
	deadline := time.Now().Add(time.Minute)
	for {
		for _, m := range e.h.Twilio.Messages(conv) {
			if m.Index > msg.Index && m.Author == "system" {
				if !e.reply(m) {
					b.Fatalf("reply to %q: %q %s, not the one wanted", msg.Body, m.Body, m.Attributes)
				}
				return m
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("no reply to %q within a minute; transcript: %q", msg.Body, e.h.Transcript(conv))
		}
		time.Sleep(time.Millisecond)
	}
}

// delivery returns the onMessageAdded delivery of message sid.
func delivery(fake *twiliotest.Server, sid string) (twiliotest.Delivery, bool) {
	for _, d := range fake.Deliveries() {
		if d.EventType == "onMessageAdded" && d.Params.Get("MessageSid") == sid && !d.Redelivery {
			return d, true
		}
	}
	return twiliotest.Delivery{}, false
}
