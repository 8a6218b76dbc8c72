package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"

	"github.com/experthub/experthub/internal/config"
)

var (
	projectPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	regionPattern  = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]+$`)
)

// gcloudFunc runs gcloud with args, writing its output to stdout and stderr.
type gcloudFunc func(args []string, stdout, stderr io.Writer) error

// Main is the deploy command: it prints the gcloud commands that deploy
// Expert Hub to a project as a shell script, or runs them with --run.
//
//	deploy --project=my-proj --region=europe-west1 --environment=staging --env-file=deploy.env [--run]
func Main(args []string, stdout io.Writer) error {
	return deploy(args, stdout, execGcloud)
}

func deploy(args []string, stdout io.Writer, gcloud gcloudFunc) error {
	fs := flag.NewFlagSet("deploy", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var s Settings
	fs.StringVar(&s.Project, "project", "", "Google Cloud project id (required)")
	fs.StringVar(&s.Region, "region", "", "region of the functions, e.g. europe-west1 (required)")
	d, err := Load()
	if err != nil {
		return err
	}
	fs.StringVar(&s.Environment, "environment", "", environmentFlagHelp(d))
	envFile := fs.String("env-file", "", "KEY=VALUE file of non-secret settings (config.Vars names); secrets are refused")
	run := fs.Bool("run", false, "run the commands instead of printing them")
	fs.StringVar(&s.Source, "source", ".", "module root to upload (filtered by .gcloudignore)")
	fs.StringVar(&s.FirestoreLocation, "firestore-location", "", "Firestore location (default: the region)")
	fs.StringVar(&s.Schedule, "schedule", "0 3 * * *", "cron schedule of the full sync")
	fs.StringVar(&s.TimeZone, "time-zone", "Etc/UTC", "time zone of --schedule")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("deploy: unexpected arguments %q", fs.Args())
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
		env, err := readEnvFile(*envFile)
		if err != nil {
			return err
		}
		s.Env = env
	}
	steps, err := d.Plan(s)
	if err != nil {
		return err
	}
	if *run {
		return runSteps(steps, gcloud, stdout)
	}
	return WriteScript(stdout, s, steps)
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

// runSteps runs steps in order and stops at the first failure.
func runSteps(steps []Step, gcloud gcloudFunc, w io.Writer) error {
	for _, st := range steps {
		fmt.Fprintf(w, "\n# %s\n", strings.ReplaceAll(st.Comment, "\n", "\n# "))
		if st.Args == nil {
			continue
		}
		if st.Exists != nil {
			if gcloud(st.Exists, io.Discard, io.Discard) == nil {
				if st.Update == nil {
					fmt.Fprintln(w, "exists already: skipped")
					continue
				}
				if err := call(gcloud, st.Update, w, w); err != nil {
					return err
				}
				continue
			}
		}
		if st.Expect != "" {
			var out bytes.Buffer
			if err := call(gcloud, st.Args, &out, w); err != nil {
				return err
			}
			if strings.TrimSpace(out.String()) == "" {
				return errors.New("deploy: " + st.Expect)
			}
			continue
		}
		var errOut bytes.Buffer
		err := call(gcloud, st.Args, w, io.MultiWriter(w, &errOut))
		if err != nil && st.AlreadyExistsOK && alreadyExists(errOut.String()) {
			fmt.Fprintln(w, "exists already: fine")
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func call(gcloud gcloudFunc, args []string, stdout, stderr io.Writer) error {
	fmt.Fprintln(stderr, "$ "+command(args))
	if err := gcloud(args, stdout, stderr); err != nil {
		return fmt.Errorf("deploy: gcloud %s: %w", strings.Join(args[:min(3, len(args))], " "), err)
	}
	return nil
}

func alreadyExists(stderr string) bool {
	s := strings.ToLower(stderr)
	return strings.Contains(s, "already_exists") || strings.Contains(s, "already exists")
}

// WriteScript writes steps as a bash script that can be reviewed and run.
func WriteScript(w io.Writer, s Settings, steps []Step) error {
	var b strings.Builder
	fmt.Fprintf(&b, "#!/usr/bin/env bash\n# Deploys environment %s of Expert Hub to project %s, region %s. Generated by the deploy command;\n", s.Environment, s.Project, s.Region)
	b.WriteString("# run it from the module root. Re-running it converges. Secret values are not in\n# it: the secret steps say how to add them.\nset -euo pipefail\nexport CLOUDSDK_CORE_DISABLE_PROMPTS=1\n")
	for _, st := range steps {
		fmt.Fprintf(&b, "\n# %s\n", strings.ReplaceAll(st.Comment, "\n", "\n# "))
		switch {
		case st.Args == nil:
		case st.Exists != nil && st.Update != nil:
			fmt.Fprintf(&b, "if %s >/dev/null 2>&1; then\n  %s\nelse\n  %s\nfi\n",
				command(st.Exists), indent(command(st.Update)), indent(command(st.Args)))
		case st.Exists != nil:
			fmt.Fprintf(&b, "%s >/dev/null 2>&1 ||\n  %s\n", command(st.Exists), indent(command(st.Args)))
		case st.Expect != "":
			fmt.Fprintf(&b, "test -n \"$(%s)\" ||\n  { echo %s >&2; exit 1; }\n", command(st.Args), quote(st.Expect))
		case st.AlreadyExistsOK:
			fmt.Fprintf(&b, "%s ||\n  echo 'failed: fine if ALREADY_EXISTS' >&2\n", command(st.Args))
		default:
			b.WriteString(command(st.Args) + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n  ") }

// command formats a gcloud call for a shell, one flag per line when long.
func command(args []string) string {
	words := []string{"gcloud"}
	for _, a := range args {
		words = append(words, quote(a))
	}
	line := strings.Join(words, " ")
	if len(line) <= 100 {
		return line
	}
	var b strings.Builder
	b.WriteString("gcloud")
	for i, a := range args {
		if strings.HasPrefix(a, "-") {
			b.WriteString(" \\\n    ")
		} else {
			b.WriteString(" ")
		}
		b.WriteString(words[i+1])
	}
	return b.String()
}

var plainWord = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./^-]+$`)

// quote makes s one shell word.
func quote(s string) string {
	if plainWord.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
