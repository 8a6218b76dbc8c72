package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/app"
	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/function"
)

// TestChat runs the sandbox as `go run ./cmd/experthub` does and chats
// with it as a customer and a worker, checking what the terminal shows.
func TestChat(t *testing.T) {
	ctx := context.Background()
	sb := startApp(t)

	script := "\nhello\n\n/as ann@example.com too early\nagent please\n\n/as ann@example.com Hi Maria!\nthanks\n"
	var out strings.Builder
	if err := Chat(ctx, []string{"--from", "+33679500001", "--sandbox", sb.URL}, strings.NewReader(script), &out); err != nil {
		t.Fatalf("chat: %v\n%s", err, out.String())
	}
	transcript := out.String()
	for _, want := range []string{
		`== conversation "Maria Sanchez"`,
		`"customer_id":"1"`,
		"system: " + bot.DefaultWelcome,
		"+33679500001: hello",
		"1. Watches",             // the menu of the sample workers' areas
		"worker ann@example.com", // the longest-idle sample worker
		"Ann Lee",                // named to the customer by her display name
		"ann@example.com: Hi Maria!",
		"+33679500001: thanks",
		"(ann@example.com cannot write here:", // before the bot added her
	} {
		if !strings.Contains(transcript, want) {
			t.Errorf("transcript lacks %q:\n%s", want, transcript)
		}
	}
	// Once the worker is in, the bot is silent.
	if n := strings.Count(transcript, "system:"); n != 3 {
		t.Errorf("bot spoke %d times, want 3 (welcome, menu, connecting):\n%s", n, transcript)
	}
	noStaffAddress(t, transcript)

	if err := Chat(ctx, []string{"--sandbox", sb.URL}, strings.NewReader(""), io.Discard); err == nil {
		t.Error("chat without --from accepted")
	}
}

// startApp starts the sandbox and an App talking to it, as
// `go run ./cmd/experthub` does, and returns the sandbox.
func startApp(t *testing.T) *Sandbox {
	t.Helper()
	ctx := context.Background()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	// Start sets these; t.Setenv restores them after the test.
	for _, k := range []string{"TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_BASE_URL",
		"FRONTLINE_WORKSPACE", "FRONTLINE_DEFAULT_POOL_QUEUE", "FIRESTORE_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT",
		"ROUTING_POLICY", "EXPERTISE_AREAS", "FRONTLINE_MESSAGING_SERVICE", "FRONTLINE_PROXY_NUMBER",
		"FLEX_ACCOUNT_SID", "FLEX_AUTH_TOKEN", "FLEX_WORKSPACE", "FLEX_WORKFLOW", "HANDOFF_SECRET", "FLEX_UI_ORIGINS"} {
		t.Setenv(k, "")
	}
	t.Setenv("SANDBOX_PORT", "0")
	t.Setenv("PUBLIC_BASE_URL", "http://127.0.0.1:"+port)
	cfg, err := config.Parse(config.Environ())
	if err != nil {
		t.Fatal(err)
	}
	var startLog strings.Builder
	sb, err := Start(ctx, cfg, &startLog)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	if !strings.Contains(startLog.String(), "chat --from") || !strings.Contains(startLog.String(), "/sandbox/flex-token") {
		t.Errorf("start-up does not say how to chat: %q", startLog.String())
	}

	cfg, err = config.Parse(config.Environ())
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.HasTwilio() || cfg.TwilioAPIBaseURL != sb.URL {
		t.Fatalf("sandbox did not configure Twilio: %+v", cfg)
	}
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, name := range function.All() {
		mux.Handle("/"+string(name), a.Handler(name))
	}
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return sb
}

// TestChatAdvisorAndExpertise: the sandbox shows advisor routing (Olivia
// Martin's advisor is ann) and the expertise menu of its sample workers.
func TestChatAdvisorAndExpertise(t *testing.T) {
	ctx := context.Background()
	sb := startApp(t)
	chat := func(from, script string) string {
		t.Helper()
		var out strings.Builder
		if err := Chat(ctx, []string{"--from", from, "--sandbox", sb.URL}, strings.NewReader(script), &out); err != nil {
			t.Fatalf("chat: %v\n%s", err, out.String())
		}
		noStaffAddress(t, out.String())
		return out.String()
	}
	wantAll := func(transcript string, wants ...string) {
		t.Helper()
		for _, want := range wants {
			if !strings.Contains(transcript, want) {
				t.Errorf("transcript lacks %q:\n%s", want, transcript)
			}
		}
	}
	// Ann away: the offer; "other" shows the areas; "2" is bridal: bob.
	wantAll(chat("+33679500004", "/away ann@example.com\nhi\nsomeone else please\n2\n/back ann@example.com\n"),
		"(ann@example.com is away)",
		`== conversation "Olivia Martin"`,
		"Ann Lee", // the advisor, by name
		"1. Watches", "2. Bridal", "3. Jewellery",
		"worker bob@example.com",
		"Bob Stone",
		"(ann@example.com is available)")
	// A synonym: the longest idle watch expert of ann and chloe is ann.
	wantAll(chat("+447491000002", "Je cherche une montre\n"),
		"worker ann@example.com", "Ann Lee")
}

// noStaffAddress fails for a bot line of the transcript naming a sample
// worker by address.
func noStaffAddress(t *testing.T, transcript string) {
	t.Helper()
	for _, line := range strings.Split(transcript, "\n") {
		for _, w := range Workers {
			if strings.Contains(line, "system:") && strings.Contains(line, w) {
				t.Errorf("the bot names %s by address: %q", w, line)
			}
		}
	}
}

// TestChatWaitingLine: with every sample worker away a customer is put in
// line, and the first worker back takes them.
func TestChatWaitingLine(t *testing.T) {
	ctx := context.Background()
	sb := startApp(t)
	var script strings.Builder
	for _, w := range Workers {
		fmt.Fprintf(&script, "/away %s\n", w)
	}
	script.WriteString("AGENT\n/back bob@example.com\n")
	var out strings.Builder
	if err := Chat(ctx, []string{"--from", "+447491000002", "--sandbox", sb.URL}, strings.NewReader(script.String()), &out); err != nil {
		t.Fatalf("chat: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "system: "+bot.InLine(1, "", "", false)) {
		t.Fatalf("transcript lacks the customer's place in line:\n%s", out.String())
	}
	convs := sb.Fake.Conversations()
	if len(convs) != 1 {
		t.Fatalf("%d conversations, want 1", len(convs))
	}
	// bob's return reaches the app as a TaskRouter event; its work is
	// asynchronous, so wait for the outcome.
	for end := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		var in []string
		for _, p := range sb.Fake.Participants(convs[0].SID) {
			if p.Identity != "" {
				in = append(in, p.Identity)
			}
		}
		if slices.Equal(in, []string{"bob@example.com"}) {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("workers in the conversation: %q, want bob@example.com", in)
		}
	}
}

// TestEnv runs a sandbox for other processes: New leaves the process
// environment alone, Env's credentials are the fake's, and Env carries
// the sandbox's Defaults the environment does not set (the local
// cluster's instances get the same menu as `go run ./cmd/experthub`).
func TestEnv(t *testing.T) {
	t.Setenv("TWILIO_AUTH_TOKEN", "")
	t.Setenv("ROUTING_POLICY", "")
	const ownAreas = "watches=Clocks"
	t.Setenv("EXPERTISE_AREAS", ownAreas)
	cfg, err := config.Parse(config.Env{"SANDBOX_PORT": "0", "PUBLIC_BASE_URL": "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	if v := os.Getenv("TWILIO_AUTH_TOKEN"); v != "" {
		t.Errorf("New set TWILIO_AUTH_TOKEN in the environment")
	}
	env := sb.Env()
	if env["TWILIO_API_BASE_URL"] != sb.URL {
		t.Errorf("TWILIO_API_BASE_URL = %q, want %q", env["TWILIO_API_BASE_URL"], sb.URL)
	}
	if env["ROUTING_POLICY"] != Defaults["ROUTING_POLICY"] {
		t.Errorf("Env's ROUTING_POLICY = %q, want the sandbox's default %q", env["ROUTING_POLICY"], Defaults["ROUTING_POLICY"])
	}
	if v, ok := env["EXPERTISE_AREAS"]; ok {
		t.Errorf("Env overrides the environment's EXPERTISE_AREAS (%q) with %q", ownAreas, v)
	}
	// Another process configured with Env, as config reads it.
	other, err := config.Parse(config.Env(env))
	if err != nil {
		t.Fatalf("Env is not a valid configuration: %v", err)
	}
	u := other.TwilioAPIBaseURL + "/v1/Workspaces/" + other.Workspace + "/Workers?TaskQueueSid=" + other.PoolQueue
	for _, tt := range []struct {
		token string
		want  int
	}{{other.TwilioAuthToken, http.StatusOK}, {"wrong", http.StatusUnauthorized}} {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.SetBasicAuth(other.TwilioAccountSID, tt.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Workers []struct {
				FriendlyName string `json:"friendly_name"`
			} `json:"workers"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("workers with token %q: %d, want %d", tt.token, resp.StatusCode, tt.want)
		}
		if tt.want == http.StatusOK && len(body.Workers) != len(Workers) {
			t.Errorf("%d workers in the pool, want %d", len(body.Workers), len(Workers))
		}
	}
}

// TestChatContactCenter: both directions of the contact center through
// the chat. The Flex agent hands Jo Anne over; Susan asks for support and
// gets a Flex task.
func TestChatContactCenter(t *testing.T) {
	ctx := context.Background()
	sb := startApp(t)
	var out strings.Builder
	if err := Chat(ctx, []string{"--from", "+447491000002", "--sandbox", sb.URL}, strings.NewReader("/handoff 2\n\n"), &out); err != nil {
		t.Fatalf("chat: %v\n%s", err, out.String())
	}
	for _, want := range []string{"== the Flex agent handed 2 over", `== conversation "Jo Anne"`, "] system: ", "== participants: customer"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("handoff transcript lacks %q:\n%s", want, out.String())
		}
	}
	// The agent's words stay with the staff.
	for _, private := range []string{"Of course", "Watch repair, customer prefers"} {
		if strings.Contains(out.String(), private) {
			t.Errorf("the customer's conversation shows %q:\n%s", private, out.String())
		}
	}
	out.Reset()
	if err := Chat(ctx, []string{"--from", "whatsapp:+5521989500003", "--sandbox", sb.URL}, strings.NewReader("hi\nsupport please\n\n"), &out); err != nil {
		t.Fatalf("chat: %v\n%s", err, out.String())
	}
	// The task is shown with the transcript the agent reads (the
	// customer's own words in it), not its length.
	for _, want := range []string{"system: " + bot.PassingToContactCenter, "== Flex task WT", "for Susan Smith", "\n    | customer: support please\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("support transcript lacks %q:\n%s", want, out.String())
		}
	}
	if n := strings.Count(out.String(), "== Flex task"); n != 1 {
		t.Errorf("the task is shown %d times, want once:\n%s", n, out.String())
	}
	if n := len(sb.Flex.Tasks()); n != 1 {
		t.Errorf("Flex tasks = %d, want 1", n)
	}
	// Another customer's chat shows none of Susan's tasks.
	out.Reset()
	if err := Chat(ctx, []string{"--from", "+33679500001", "--sandbox", sb.URL}, strings.NewReader("hello\n\n"), &out); err != nil {
		t.Fatalf("chat: %v\n%s", err, out.String())
	}
	if strings.Contains(out.String(), "Flex task") {
		t.Errorf("a new customer's chat shows another customer's Flex task:\n%s", out.String())
	}
}

// TestFlexPlugin: the sandbox plays the Flex account for the Flex plugin's
// harness: a page on this machine reads the agent's token, lists the
// experts and hands a customer over with it, and the customer's
// conversation gets the expert and records the agent.
func TestFlexPlugin(t *testing.T) {
	sb := startApp(t)
	const page = "http://localhost:5173"
	get := func(url string, header http.Header, v any) http.Header {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header = header
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(v) != nil {
			t.Fatalf("GET %s: %d", url, resp.StatusCode)
		}
		return resp.Header
	}
	var tok struct{ Token, Identity string }
	hd := get(sb.URL+"/sandbox/flex-token", http.Header{"Origin": {page}}, &tok)
	if tok.Token == "" || tok.Identity != FlexAgent || hd.Get("Access-Control-Allow-Origin") != page {
		t.Fatalf("flex-token = %+v, CORS %q", tok, hd.Get("Access-Control-Allow-Origin"))
	}
	experts := strings.TrimSuffix(sb.handoffURL, string(function.Handoff)) + string(function.Experts)
	var list struct {
		Areas   []string
		Experts []struct{ Identity, Name string }
	}
	hd = get(experts, http.Header{"Origin": {page}, "Authorization": {"Bearer " + tok.Token}}, &list)
	if len(list.Experts) != len(Workers) || list.Experts[0].Name != displayNames[list.Experts[0].Identity] ||
		!slices.Contains(list.Areas, "watches") || hd.Get("Access-Control-Allow-Origin") != page {
		t.Errorf("experts = %+v, CORS %q", list, hd.Get("Access-Control-Allow-Origin"))
	}
	body := `{"Token":"` + tok.Token + `","handoff_id":"WTsandbox-1","customer_id":"1","area":"bridal","summary":"a ring"}`
	resp, err := http.Post(sb.handoffURL, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var ans struct {
		Conversation string `json:"conversation_sid"`
		Expert       struct{ Identity string }
	}
	err = json.NewDecoder(resp.Body).Decode(&ans)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || ans.Expert.Identity != "bob@example.com" {
		t.Fatalf("handoff = %d %+v, %v; want bob, the bridal expert", resp.StatusCode, ans, err)
	}
	var st State
	get(sb.URL+"/sandbox/conversations/"+ans.Conversation, nil, &st)
	if !slices.ContainsFunc(st.Participants, func(p Participant) bool { return p.Identity == "bob@example.com" }) ||
		!strings.Contains(st.Attributes, `"agent":"`+FlexAgent+`"`) {
		t.Errorf("conversation %+v: want bob in it and the agent recorded", st)
	}
}

// TestChatFlexEnds: the Flex agent ends the chat's task: canceled, the
// customer is back with the bot; completed, the conversation closes
// after the closing message.
func TestChatFlexEnds(t *testing.T) {
	ctx := context.Background()
	sb := startApp(t)
	for _, tt := range []struct{ from, end, want string }{
		{"whatsapp:+5521989500003", "canceled", "system: " + bot.BackFromContactCenter},
		{"+447491000002", "completed", "system: " + bot.DefaultContactCenterClosing},
	} {
		var out strings.Builder
		in := "support please\n/flex " + tt.end + "\n\n"
		if err := Chat(ctx, []string{"--from", tt.from, "--sandbox", sb.URL}, strings.NewReader(in), &out); err != nil {
			t.Fatalf("chat: %v\n%s", err, out.String())
		}
		if !strings.Contains(out.String(), "== the Flex task is "+tt.end) || !strings.Contains(out.String(), tt.want) {
			t.Errorf("/flex %s: transcript lacks %q:\n%s", tt.end, tt.want, out.String())
		}
	}
}

// TestChatLifecycle: /leave has a worker leave (the bot answers the next
// text), /close closes the conversation (the next text starts a new one).
func TestChatLifecycle(t *testing.T) {
	sb := startApp(t)
	var out strings.Builder
	script := "ann@example.com\n/leave ann@example.com\nhello?\n/close\nhi again\n"
	if err := Chat(context.Background(), []string{"--from", "+447491000002", "--sandbox", sb.URL}, strings.NewReader(script), &out); err != nil {
		t.Fatalf("chat: %v\n%s", err, out.String())
	}
	got := out.String()
	t.Logf("chat:\n%s", got)
	for _, want := range []string{"worker ann@example.com", "== ann@example.com left the conversation",
		"== the conversation is closed: your next text starts a new one"} {
		if !strings.Contains(got, want) {
			t.Errorf("transcript lacks %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "== conversation "); n != 2 {
		t.Errorf("%d conversations shown, want 2 (the one closed, the next):\n%s", n, got)
	}
}
