package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/sandbox"
)

// TestSandboxAlone runs the sandbox subcommand and uses the environment
// it prints as another process would: the fake Twilio takes its
// credentials, and the chat API answers.
func TestSandboxAlone(t *testing.T) {
	for _, k := range []string{"TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "FRONTLINE_WORKSPACE", "ROUTING_POLICY", "EXPERTISE_AREAS"} {
		t.Setenv(k, "")
	}
	t.Setenv("SANDBOX_PORT", "0")
	t.Setenv("PUBLIC_BASE_URL", "http://127.0.0.1:1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, stdout := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"sandbox", "-latency", "1ms"}, nil, stdout, io.Discard)
		_ = stdout.Close()
	}()
	env := map[string]string{}
	var exports []string
	lines := bufio.NewScanner(out)
	required := []string{"TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_BASE_URL", "FRONTLINE_WORKSPACE", "FRONTLINE_DEFAULT_POOL_QUEUE"}
	missing := func() bool {
		for _, k := range required {
			if env[k] == "" {
				return true
			}
		}
		return false
	}
	for missing() && lines.Scan() {
		k, v, ok := strings.Cut(strings.TrimPrefix(lines.Text(), "export "), "=")
		if !ok {
			t.Fatalf("unexpected output %q", lines.Text())
		}
		env[k] = v
		exports = append(exports, lines.Text())
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	// The sandbox's defaults, as a shell evaluating the exports reads
	// them (EXPERTISE_AREAS holds ; and |): the local cluster's instances
	// get them so.
	for _, k := range []string{"ROUTING_POLICY", "EXPERTISE_AREAS"} {
		script := strings.Join(exports, "\n") + "\nprintf %s \"$" + k + "\""
		got, err := exec.Command("bash", "-c", script).Output()
		if err != nil {
			t.Fatalf("bash evaluating the exports: %v", err)
		}
		if string(got) != sandbox.Defaults[k] {
			t.Errorf("%s evaluated from the exports = %q, want the sandbox's default %q", k, got, sandbox.Defaults[k])
		}
	}
	for _, k := range []string{"TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_BASE_URL", "FRONTLINE_WORKSPACE", "FRONTLINE_DEFAULT_POOL_QUEUE"} {
		if env[k] == "" {
			t.Fatalf("printed %v, lacks %s", env, k)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, env["TWILIO_API_BASE_URL"]+"/v1/Workspaces/"+env["FRONTLINE_WORKSPACE"]+"/Workers", nil)
	req.SetBasicAuth(env["TWILIO_ACCOUNT_SID"], env["TWILIO_AUTH_TOKEN"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("workers with the printed credentials: %d", resp.StatusCode)
	}
	resp, err = http.Get(env["TWILIO_API_BASE_URL"] + "/sandbox/conversations/CH00000000000000000000000000000001")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("chat API: %d, want 404 for an unknown conversation", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("sandbox: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("sandbox did not stop")
	}
	if err := run(context.Background(), []string{"sandbox", "extra"}, nil, io.Discard, io.Discard); err == nil {
		t.Error("sandbox with an argument accepted")
	}
}
