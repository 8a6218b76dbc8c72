package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"

	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/deployment"
	"github.com/experthub/experthub/internal/gcloudplan"
)

var (
	projectPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	regionPattern  = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]+$`)
)

// deployCmd is `experthub deploy`: it prints the gcloud commands that
// deploy one environment of Expert Hub to a project as a shell script, or
// runs them with --run.
//
//	experthub deploy --project=my-proj --region=europe-west1 --environment=staging --env-file=deploy.env [--run]
func deployCmd(args []string, stdout io.Writer) error {
	return deploy(args, stdout, execGcloud)
}

func deploy(args []string, stdout io.Writer, gcloud gcloudplan.Gcloud) error {
	d, err := deployment.Load()
	if err != nil {
		return err
	}
	fs := newFlagSet("deploy", stdout)
	var s gcloudplan.Settings
	fs.StringVar(&s.Project, "project", "", "Google Cloud project id (required)")
	fs.StringVar(&s.Region, "region", "", "region of the functions, e.g. europe-west1 (required)")
	fs.StringVar(&s.Environment, "environment", "", "environment to deploy, e.g. staging or production (required): every name is "+
		d.Prefix("<environment>")+"-<name>, matching "+strings.TrimSpace(d.Naming.EnvironmentPattern))
	envFile := fs.String("env-file", "", "KEY=VALUE file of non-secret settings (config.Vars names); secrets are refused")
	run := fs.Bool("run", false, "run the commands instead of printing them")
	fs.StringVar(&s.Source, "source", ".", "module root to upload (filtered by .gcloudignore)")
	fs.StringVar(&s.FirestoreLocation, "firestore-location", "", "Firestore location (default: the region)")
	fs.StringVar(&s.Schedule, "schedule", "0 3 * * *", "cron schedule of the full sync")
	fs.StringVar(&s.TimeZone, "time-zone", "Etc/UTC", "time zone of --schedule")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !projectPattern.MatchString(s.Project) {
		return fmt.Errorf("deploy: --project=%q is not a project id", s.Project)
	}
	if !regionPattern.MatchString(s.Region) {
		return fmt.Errorf("deploy: --region=%q is not a region such as europe-west1", s.Region)
	}
	if err := d.ValidEnvironment(s.Environment); err != nil {
		return fmt.Errorf("deploy: --environment: %w", err)
	}
	if *envFile != "" {
		if s.Env, err = readEnvFile(*envFile); err != nil {
			return err
		}
	}
	steps, err := gcloudplan.Plan(d, s)
	if err != nil {
		return err
	}
	if *run {
		return gcloudplan.Run(steps, gcloud, stdout)
	}
	return gcloudplan.WriteScript(stdout, s, steps)
}

func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("deploy: %w", err)
	}
	defer f.Close()
	env, err := config.ParseDotEnv(bufio.NewScanner(f))
	if err != nil {
		return nil, fmt.Errorf("deploy: read %s: %w", path, err)
	}
	return env, nil
}

func execGcloud(args []string, stdout, stderr io.Writer) error {
	cmd := exec.Command("gcloud", args...)
	// Never prompt: every step passes its choices as flags.
	cmd.Env = append(os.Environ(), "CLOUDSDK_CORE_DISABLE_PROMPTS=1")
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	return cmd.Run()
}
