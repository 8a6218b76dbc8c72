package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/experthub/experthub/internal/deployment"
)

// writeEnvFile writes the settings of a deployment as a .env file and
// returns its path.
func writeEnvFile(t *testing.T) string {
	t.Helper()
	const sid = "0123456789abcdef0123456789abcdef"
	env := map[string]string{
		"TWILIO_ACCOUNT_SID":           "AC" + sid,
		"FRONTLINE_WORKSPACE":          "WS" + sid,
		"FRONTLINE_DEFAULT_POOL_QUEUE": "WQ" + sid,
		"DB_URL":                       "https://cms.example.com", // alias of STRAPI_URL
		"WELCOME_MESSAGE":              "Hello, I'm the bot",
	}
	var b strings.Builder
	b.WriteString("# deploy settings\n")
	for k, v := range env {
		fmt.Fprintf(&b, "%s=%q\n", k, v)
	}
	path := filepath.Join(t.TempDir(), "deploy.env")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// gcloudCalls is a gcloud that records its calls and finds that nothing
// exists yet, and every secret has a version.
type gcloudCalls [][]string

func (g *gcloudCalls) run(args []string, stdout, stderr io.Writer) error {
	*g = append(*g, args)
	if slices.Contains(args, "describe") {
		return fmt.Errorf("NOT_FOUND")
	}
	if slices.Equal(args[:3], []string{"secrets", "versions", "list"}) {
		io.WriteString(stdout, "1\n")
	}
	return nil
}

// TestDeploy: the command prints the plan of the environment it is given
// as a script, and with --run runs it with gcloud instead (the plan and
// how it runs are internal/gcloudplan's tests).
func TestDeploy(t *testing.T) {
	d, err := deployment.Load()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--project=expert-test", "--region=europe-west1", "--environment=prod",
		"--source=../..", "--env-file=" + writeEnvFile(t)}

	var printed gcloudCalls
	var script strings.Builder
	if err := deploy(args, &script, printed.run); err != nil {
		t.Fatalf("deploy: %v\n%s", err, script.String())
	}
	if len(printed) != 0 {
		t.Errorf("printing ran gcloud %d times", len(printed))
	}
	for _, want := range []string{"#!/usr/bin/env bash\n", "# Deploys environment prod of Expert Hub", "gcloud functions deploy eh-prod-crm"} {
		if !strings.Contains(script.String(), want) {
			t.Errorf("script lacks %q", want)
		}
	}

	var ran gcloudCalls
	var out strings.Builder
	if err := deploy(append(args, "--run"), &out, ran.run); err != nil {
		t.Fatalf("deploy --run: %v\n%s", err, out.String())
	}
	var deployed []string
	for _, call := range ran {
		if slices.Equal(call[:2], []string{"functions", "deploy"}) {
			deployed = append(deployed, call[2])
		}
	}
	var want []string
	for _, f := range d.Functions {
		want = append(want, "eh-prod-"+string(f.Name))
	}
	if !slices.Equal(deployed, want) {
		t.Errorf("deploy --run deployed %q, want %q", deployed, want)
	}
	if !strings.Contains(out.String(), "$ gcloud functions deploy eh-prod-post-event") {
		t.Errorf("output does not echo the commands:\n%s", out.String())
	}
}

func TestDeployFlags(t *testing.T) {
	envFile := writeEnvFile(t)
	cases := map[string][]string{
		"no project":       {"--region=europe-west1", "--environment=prod", "--env-file=" + envFile},
		"bad project":      {"--project=Bad_Project", "--region=europe-west1", "--environment=prod", "--env-file=" + envFile},
		"bad region":       {"--project=expert-test", "--region=europe", "--environment=prod", "--env-file=" + envFile},
		"extra argument":   {"--project=expert-test", "--region=europe-west1", "--environment=prod", "now"},
		"missing env file": {"--project=expert-test", "--region=europe-west1", "--environment=prod", "--env-file=" + filepath.Join(t.TempDir(), "none")},
		"unknown flag":     {"--zone=europe-west1-b"},
		"no environment":   {"--project=expert-test", "--region=europe-west1", "--env-file=" + envFile},
		"bad environment":  {"--project=expert-test", "--region=europe-west1", "--environment=Staging", "--env-file=" + envFile},
	}
	for name, a := range cases {
		var g gcloudCalls
		if err := deploy(a, io.Discard, g.run); err == nil {
			t.Errorf("%s: no error", name)
		}
		if len(g) != 0 {
			t.Errorf("%s: gcloud ran %d times", name, len(g))
		}
	}
}
