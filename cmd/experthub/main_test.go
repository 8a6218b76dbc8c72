package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

// TestLocalServer runs the real binary the way the README says and calls
// the CRM callback as Frontline would: signed, and unsigned.
func TestLocalServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := filepath.Join(t.TempDir(), "experthub")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	port := freePort(t)
	base := "http://127.0.0.1:" + port
	const token = "0123456789abcdef0123456789abcdef"
	cmd := exec.Command(bin)
	cmd.Dir = t.TempDir() // no .env there
	// A clean environment: no emulator or project, so the embedded sample
	// CRM is served from memory.
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"PORT=" + port,
		"PUBLIC_BASE_URL=" + base,
		"TWILIO_ACCOUNT_SID=AC" + strings.Repeat("0", 32),
		"TWILIO_AUTH_TOKEN=" + token,
		"FRONTLINE_WORKSPACE=WS" + strings.Repeat("0", 32),
	}
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("server output:\n%s", logs.String())
		}
	})
	waitListening(t, "127.0.0.1:"+port)

	form := url.Values{"Location": {"GetCustomersList"}, "Worker": {"ann@example.com"}, "PageSize": {"30"}}
	status, body := postForm(t, base+"/crm", form, twiliotest.Sign(token, base+"/crm", form))
	if status != http.StatusOK {
		t.Fatalf("signed GetCustomersList: %d %s", status, body)
	}
	var resp struct {
		Objects struct {
			Customers []struct {
				ID   string `json:"customer_id"`
				Name string `json:"display_name"`
			} `json:"customers"`
		} `json:"objects"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	var names []string
	for _, c := range resp.Objects.Customers {
		names = append(names, c.Name)
	}
	slices.Sort(names)
	// Olivia Martin is ann's own customer (her advisor); the others are
	// everyone's.
	if got := strings.Join(names, ", "); got != "Jo Anne, Maria Sanchez, Olivia Martin, Susan Smith" {
		t.Errorf("customers = %s, want the four samples", got)
	}

	if status, body := postForm(t, base+"/crm", form, ""); status != http.StatusForbidden {
		t.Errorf("unsigned GetCustomersList: %d %s, want 403", status, body)
	}
	if status, _ := postForm(t, base+"/crm", form, twiliotest.Sign("wrong", base+"/crm", form)); status != http.StatusForbidden {
		t.Errorf("badly signed GetCustomersList: %d, want 403", status)
	}
}

func postForm(t *testing.T, u string, form url.Values, sig string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if sig != "" {
		req.Header.Set("X-Twilio-Signature", sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("server did not listen on %s", addr)
}

// TestServeStopsOnSignal checks the runner exits on SIGTERM (the functions
// framework's server has no context of its own).
func TestServeStopsOnSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := filepath.Join(t.TempDir(), "experthub")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	port := freePort(t)
	cmd := exec.Command(bin)
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "PORT=" + port, "SANDBOX_PORT=0"}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitListening(t, "127.0.0.1:"+port)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("server ignored SIGTERM")
	}
}
