package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/cloudtasks/cloudtaskstest"
	"github.com/experthub/experthub/internal/firestoretest"
	"github.com/experthub/experthub/internal/taskqueue"
	"github.com/experthub/experthub/internal/taskqueue/engine"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

func TestMain(m *testing.M) { firestoretest.Main(m) }

// Who texts whom in the crash test. The customer is not in the (empty)
// CRM cache: the conversation is named by the masked number.
const (
	crashCustomer = "+33679500001"
	crashCompany  = "+447828500000"
	crashAccount  = "expert-hub-tasks@local.iam.gserviceaccount.com"
)

// TestCrashMidTurn kills -9 a real experthub process half way through a
// bot turn — the "connecting you" reply posted, the worker's addition
// still in flight — and checks the turn is finished by another process
// through the Cloud Tasks queue, without Twilio redelivering anything
// (post-event webhooks are never retried): one reply, one worker.
//
// Process A gets every Twilio webhook; every queue task goes to process
// B. Both are configured only through their environment, as deployed,
// and share the Firestore emulator and the Cloud Tasks fake.
func TestCrashMidTurn(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	ctx := context.Background()
	bin := buildBinary(t)

	fake := twiliotest.NewServer(twiliotest.Config{})
	t.Cleanup(fake.Close)
	for _, w := range []string{"ann@example.com", "bob@example.com"} {
		fake.AddWorker(w, true, nil, fake.QueueSID())
	}
	tasks, err := cloudtaskstest.Start(ctx, cloudtaskstest.Options{
		RequireOIDC: true,
		Queues: []cloudtaskstest.Queue{{
			Name:  cloudtaskstest.DefaultQueue,
			Retry: engine.RetryConfig{MaxAttempts: -1, MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, MaxDoublings: 3},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tasks.Close() })

	urlA, urlB := "http://127.0.0.1:"+freePort(t), "http://127.0.0.1:"+freePort(t)
	common := []string{
		"TWILIO_ACCOUNT_SID=" + fake.AccountSID(),
		"TWILIO_AUTH_TOKEN=" + fake.AuthToken(),
		"TWILIO_API_BASE_URL=" + fake.URL,
		"FRONTLINE_WORKSPACE=" + fake.WorkspaceSID(),
		"FRONTLINE_DEFAULT_POOL_QUEUE=" + fake.QueueSID(),
		"GOOGLE_CLOUD_PROJECT=" + firestoretest.Project(t),
		firestoretest.EnvHost + "=" + os.Getenv(firestoretest.EnvHost),
		"WORK_QUEUE=" + cloudtaskstest.DefaultQueue,
		"WORK_SERVICE_ACCOUNT=" + crashAccount,
		cloudtaskstest.EnvHost + "=" + tasks.Addr(),
		cloudtaskstest.EnvSecret + "=" + tasks.Secret(),
		"PUBLIC_URL_WORK=" + urlB + "/work",
	}
	// A's Twilio calls outlive its webhook deadline, so the hung addition
	// of the worker is still in flight, whenever the test gets to kill A.
	a := startServe(t, bin, "A", urlA, append(common, "TWILIO_TIMEOUT=30s")...)
	startServe(t, bin, "B", urlB, common...)
	fake.SetWebhooks(twiliotest.Webhooks{
		PreWebhookURL:  urlA + "/pre-event",
		PostWebhookURL: urlA + "/post-event",
		Filters:        []string{"onConversationAdd", "onParticipantAdded", "onMessageAdded"},
		RoutingURL:     urlA + "/routing",
	})

	hi, err := fake.CustomerTexts(ctx, crashCustomer, crashCompany, "hi")
	if err != nil {
		t.Fatal(err)
	}
	conv := hi.ConversationSID
	// The first text's safety nets (welcome, attributes, menu) run on B:
	// let them finish, so only the turn under test is in flight.
	waitIdle(t, tasks)

	// A's lines from here on are the turn's: on a busy machine the first
	// text's own attempts may have left their work to the queue too.
	before := len(a.logs.String())
	fake.HangNext(http.MethodPost, "/v1/Conversations/"+conv+"/Participants")
	texted := make(chan error, 1)
	go func() {
		_, err := fake.CustomerTexts(ctx, crashCustomer, crashCompany, "AGENT")
		texted <- err
	}()

	reply := waitFor(t, "the connecting reply", func() (twiliotest.Message, bool) {
		for _, m := range fake.Messages(conv) {
			if apptest.Promised(m) != "" {
				return m, true
			}
		}
		return twiliotest.Message{}, false
	})
	agent := messageWithBody(t, fake.Messages(conv), "AGENT")
	turnTask := cloudtaskstest.DefaultQueue + "/tasks/" + taskqueue.TaskID("turn", agent.SID)
	_, queuedFirst := tasks.Task(turnTask)
	if strings.Contains(a.logs.String()[before:], "conversation work") {
		t.Fatalf("A's attempt was over before the kill; the test missed the crash:\n%s", a.logs)
	}
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill -9 A: %v", err)
	}
	killed := time.Now()
	<-a.exited

	worker := waitFor(t, "a worker in the conversation", func() (twiliotest.Participant, bool) {
		for _, p := range fake.Participants(conv) {
			if p.Identity != "" {
				return p, true
			}
		}
		return twiliotest.Participant{}, false
	})
	joined := time.Now()
	waitIdle(t, tasks)
	select {
	case err := <-texted:
		if err != nil {
			t.Errorf("texting AGENT: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the fake Twilio is still delivering AGENT's webhook to the dead process")
	}

	// One reply, one worker, the conversation in order.
	want := []string{
		"system: " + bot.DefaultWelcome,
		crashCustomer + ": hi",
		"system: " + bot.Menu,
		crashCustomer + ": AGENT",
		apptest.Connect(worker.Identity),
	}
	msgs := fake.Messages(conv)
	var got []string
	for i, m := range msgs {
		line := m.Author + ": " + m.Body
		if w := apptest.Promised(m); w != "" {
			line = apptest.Connect(w)
		}
		got = append(got, line)
		if m.Index != i {
			t.Errorf("message %d has index %d", i, m.Index)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("messages:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	var workers []string
	for _, p := range fake.Participants(conv) {
		if p.Identity != "" {
			workers = append(workers, p.Identity)
		}
	}
	if len(workers) != 1 {
		t.Errorf("workers %v, want one", workers)
	}

	// Twilio delivered AGENT once, to A, which died on it; nothing was
	// redelivered.
	var deliveries []twiliotest.Delivery
	for _, d := range fake.Deliveries() {
		if d.Redelivery {
			t.Errorf("the fake Twilio redelivered %s %s", d.Target, d.EventType)
		}
		if d.EventType == "onMessageAdded" && d.Params.Get("MessageSid") == agent.SID {
			deliveries = append(deliveries, d)
		}
	}
	if len(deliveries) != 1 {
		t.Fatalf("%d onMessageAdded deliveries of AGENT, want 1", len(deliveries))
	}
	if d := deliveries[0]; d.Err == nil {
		t.Errorf("AGENT's onMessageAdded was answered %d by a process killed during it", d.Status)
	}

	// The queue finished the turn on B.
	task, ok := tasks.Task(turnTask)
	switch {
	case !ok:
		t.Fatalf("no task %s; tasks: %v", turnTask, taskNames(tasks))
	case task.URL != urlB+"/work":
		t.Errorf("turn task went to %s, want B's %s/work", task.URL, urlB)
	case task.Attempts < 1 || task.State != engine.Succeeded || task.LastStatus != http.StatusOK:
		t.Errorf("turn task: %d attempts, %s, last status %d, want succeeded with 200", task.Attempts, task.State, task.LastStatus)
	}

	t.Logf("reply posted %s after AGENT; turn task queued before the reply was seen: %t",
		reply.DateCreated.Sub(agent.DateCreated), queuedFirst)
	t.Logf("kill -9 A → %s joined: %s (turn task due %s after AGENT was published; %d attempt(s) on B)",
		worker.Identity, joined.Sub(killed).Round(time.Millisecond),
		task.ScheduleTime.Sub(agent.DateCreated).Round(time.Millisecond), task.Attempts)
}

// buildBinary builds this command into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "experthub")
	// go test puts the go command that runs it first on PATH.
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// process is a running `experthub serve`.
type process struct {
	cmd    *exec.Cmd
	logs   *lockedBuffer
	exited chan struct{} // closed once the process has exited
}

// startServe starts `experthub serve` on base's port, its public URL,
// with nothing in its environment but env, and waits until it listens.
func startServe(t *testing.T, bin, name, base string, env ...string) *process {
	t.Helper()
	port := base[strings.LastIndexByte(base, ':')+1:]
	p := &process{logs: &lockedBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "serve")
	p.cmd.Dir = t.TempDir() // no .env there
	p.cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"PORT=" + port,
		"PUBLIC_BASE_URL=" + base,
	}, env...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("%s's output:\n%s", name, p.logs)
		}
	})
	waitListening(t, "127.0.0.1:"+port)
	return p
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline: the machine may be slow, the outcome is what is checked.
func waitFor[T any](t *testing.T, what string, cond func() (T, bool)) T {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if v, ok := cond(); ok {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitIdle(t *testing.T, tasks *cloudtaskstest.Fake) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := tasks.WaitIdle(ctx); err != nil {
		t.Fatalf("the queue did not finish its tasks: %v; tasks: %v", err, taskNames(tasks))
	}
}

func taskNames(tasks *cloudtaskstest.Fake) []string {
	var names []string
	for _, task := range tasks.Tasks() {
		names = append(names, task.Name[strings.LastIndexByte(task.Name, '/')+1:]+" "+task.State.String())
	}
	return names
}

func messageWithBody(t *testing.T, msgs []twiliotest.Message, body string) twiliotest.Message {
	t.Helper()
	for _, m := range msgs {
		if m.Body == body {
			return m
		}
	}
	t.Fatalf("no message %q", body)
	return twiliotest.Message{}
}

// lockedBuffer is a bytes.Buffer a process writes while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
