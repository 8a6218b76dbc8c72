package gcloudplan

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// runPlan runs the plan of testSettings with gcloud, writing to w.
func runPlan(t *testing.T, w io.Writer, gcloud Gcloud) error {
	t.Helper()
	steps, err := plan(t, testSettings(t))
	if err != nil {
		t.Fatal(err)
	}
	return Run(steps, gcloud, w)
}

// fakeGcloud records calls and answers like gcloud on a project where the
// service accounts, the secrets (with versions), the database, the index
// and the scheduler job exist already.
type fakeGcloud struct {
	calls [][]string
	fail  func(args []string) (stderr string, failed bool)
}

func (f *fakeGcloud) run(args []string, stdout, stderr io.Writer) error {
	f.calls = append(f.calls, args)
	if f.fail != nil {
		if msg, failed := f.fail(args); failed {
			io.WriteString(stderr, msg)
			return errors.New("exit status 1")
		}
	}
	if slices.Equal(args[:3], []string{"secrets", "versions", "list"}) {
		io.WriteString(stdout, "1\n")
	}
	return nil
}

func (f *fakeGcloud) called(prefix ...string) int {
	n := 0
	for _, c := range f.calls {
		if len(c) >= len(prefix) && slices.Equal(c[:len(prefix)], prefix) {
			n++
		}
	}
	return n
}

func TestRunConverges(t *testing.T) {
	g := &fakeGcloud{fail: func(args []string) (string, bool) {
		if args[1] == "indexes" {
			return "ERROR: (gcloud.firestore.indexes.composite.create) ALREADY_EXISTS: index already exists", true
		}
		return "", false
	}}
	var out bytes.Buffer
	if err := runPlan(t, &out, g.run); err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	d := description(t)
	invokers := 0
	for _, f := range d.Functions {
		if f.Public {
			invokers++
		}
		invokers += len(f.Invokers)
	}
	checks := []struct {
		prefix []string
		want   int
	}{
		{[]string{"iam", "service-accounts", "describe"}, len(d.ServiceAccounts)},
		{[]string{"iam", "service-accounts", "create"}, 0}, // they exist
		{[]string{"secrets", "create"}, 0},
		{[]string{"firestore", "databases", "create"}, 0},
		{[]string{"firestore", "indexes", "composite", "create"}, 2},
		{[]string{"functions", "deploy"}, len(d.Functions)},
		{[]string{"tasks", "queues", "create"}, 0},
		{[]string{"tasks", "queues", "update"}, len(d.Queues)}, // exists: updated
		{[]string{"scheduler", "jobs", "create"}, 0},
		{[]string{"scheduler", "jobs", "update", "http"}, 2}, // full sync and line sweep exist: updated
		{[]string{"run", "services", "add-iam-policy-binding"}, invokers},
	}
	for _, c := range checks {
		if got := g.called(c.prefix...); got != c.want {
			t.Errorf("%q called %d times, want %d", c.prefix, got, c.want)
		}
	}
	if !strings.Contains(out.String(), "$ gcloud functions deploy eh-prod-post-event") {
		t.Errorf("output does not echo the commands:\n%s", out.String())
	}
}

func TestRunCreatesWhatIsMissing(t *testing.T) {
	g := &fakeGcloud{fail: func(args []string) (string, bool) {
		return "NOT_FOUND", slices.Contains(args, "describe")
	}}
	if err := runPlan(t, io.Discard, g.run); err != nil {
		t.Fatal(err)
	}
	for _, prefix := range [][]string{
		{"iam", "service-accounts", "create"},
		{"secrets", "create"},
		{"firestore", "databases", "create"},
		{"tasks", "queues", "create"},
		{"scheduler", "jobs", "create", "http"},
	} {
		if g.called(prefix...) == 0 {
			t.Errorf("%q not called", prefix)
		}
	}
	if n := g.called("scheduler", "jobs", "update") + g.called("tasks", "queues", "update"); n != 0 {
		t.Errorf("%d updates of a scheduler job or a queue before it exists", n)
	}
}

func TestRunStops(t *testing.T) {
	t.Run("secret without a version", func(t *testing.T) {
		g := &fakeGcloud{}
		emptySecret := func(args []string, stdout, stderr io.Writer) error {
			if slices.Contains(args, "eh-prod-strapi-webhook-secret") && args[1] == "versions" {
				g.calls = append(g.calls, args)
				return nil // no output: no enabled version
			}
			return g.run(args, stdout, stderr)
		}
		err := runPlan(t, io.Discard, emptySecret)
		if err == nil || !strings.Contains(err.Error(), "eh-prod-strapi-webhook-secret has no enabled version") {
			t.Fatalf("error %v, want the missing secret named", err)
		}
		if n := g.called("functions", "deploy"); n != 0 {
			t.Errorf("%d functions deployed without their secret", n)
		}
	})
	t.Run("failed deploy", func(t *testing.T) {
		g := &fakeGcloud{fail: func(args []string) (string, bool) {
			return "ERROR: build failed", slices.Equal(args[:3], []string{"functions", "deploy", "eh-prod-sync"})
		}}
		err := runPlan(t, io.Discard, g.run)
		if err == nil || !strings.Contains(err.Error(), "gcloud functions deploy eh-prod-sync") {
			t.Fatalf("error %v, want the failed command named", err)
		}
		if n := g.called("functions", "deploy"); n != 4 { // crm, outgoing, templates, sync
			t.Errorf("%d deploys attempted, want to stop after sync (4)", n)
		}
	})
	t.Run("index error other than ALREADY_EXISTS", func(t *testing.T) {
		g := &fakeGcloud{fail: func(args []string) (string, bool) {
			return "PERMISSION_DENIED", args[1] == "indexes"
		}}
		if err := runPlan(t, io.Discard, g.run); err == nil {
			t.Fatal("no error")
		}
	})
}

func TestWriteScript(t *testing.T) {
	s := testSettings(t)
	steps, err := plan(t, s)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := WriteScript(&out, s, steps); err != nil {
		t.Fatal(err)
	}
	script := out.String()
	for _, want := range []string{
		"#!/usr/bin/env bash\n",
		"set -euo pipefail\n",
		"gcloud functions deploy eh-prod-pre-event \\\n",
		"'--set-env-vars=^",                 // a value has a comma
		"--member=allUsers",                 // public invoker
		"if gcloud scheduler jobs describe", // create or update
		"gcloud secrets versions add eh-prod-twilio-auth-token --data-file=-",
		"# Deploys environment prod of Expert Hub",
		"--update-labels=app=expert-hub,environment=prod",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q", want)
		}
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash to check the script's syntax")
	}
	path := filepath.Join(t.TempDir(), "deploy.sh")
	if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command(bash, "-n", path).CombinedOutput(); err != nil {
		t.Errorf("bash -n: %v\n%s", err, msg)
	}
}

func TestQuoteRoundTrip(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	for _, s := range []string{"plain", "--database=(default)", "it's", "a b", `$HOME "x"`, "0 3 * * *", "^|^A=1|B=2"} {
		got, err := exec.Command(bash, "-c", "printf %s "+quote(s)).Output()
		if err != nil || string(got) != s {
			t.Errorf("quote(%q) = %s reads back as %q (%v)", s, quote(s), got, err)
		}
	}
}
