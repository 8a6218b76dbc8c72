package sandbox

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/experthub/experthub/internal/app"
	"github.com/experthub/experthub/internal/config"
)

// TestChat runs the sandbox as `go run ./cmd/experthub` does and chats
// with it as a customer and a worker, checking what the terminal shows.
func TestChat(t *testing.T) {
	ctx := context.Background()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	// Start sets these; t.Setenv restores them after the test.
	for _, k := range []string{"TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_BASE_URL",
		"FRONTLINE_WORKSPACE", "FRONTLINE_DEFAULT_POOL_QUEUE", "FIRESTORE_EMULATOR_HOST", "GOOGLE_CLOUD_PROJECT"} {
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
	if !strings.Contains(startLog.String(), "chat --from") {
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
	for _, name := range app.Functions {
		mux.Handle("/"+name, a.Handler(name))
	}
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })

	script := "hello\n/as ann@example.com too early\nagent please\n/as ann@example.com Hi Maria!\nthanks\n"
	var out strings.Builder
	if err := Chat(ctx, []string{"--from", "+33679500001", "--sandbox", sb.URL}, strings.NewReader(script), &out); err != nil {
		t.Fatalf("chat: %v\n%s", err, out.String())
	}
	transcript := out.String()
	for _, want := range []string{
		`== conversation "Maria Sanchez"`,
		`"customer_id":"1"`,
		"system: Welcome to the Expert Hub. How can I help you?",
		"+33679500001: hello",
		"system: If you know the email of the agent",
		"worker ann@example.com", // the longest-idle sample worker
		"system: Bear with us while we connect you to ann@example.com",
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

	if err := Chat(ctx, []string{"--sandbox", sb.URL}, strings.NewReader(""), io.Discard); err == nil {
		t.Error("chat without --from accepted")
	}
}
