package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/sandbox"
)

func startSandbox(ctx context.Context, cfg *config.Config, log io.Writer) (*sandbox.Sandbox, error) {
	return sandbox.Start(ctx, cfg, log)
}

func chat(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	return sandbox.Chat(ctx, args, stdin, stdout)
}

var plainWord = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./^-]*$`)

// shellWord makes s one shell word: the sandbox's exports are meant for
// eval, and EXPERTISE_AREAS holds ; and |.
func shellWord(s string) string {
	if plainWord.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// sandboxAlone runs the sandbox Twilio as its own process, for several
// experthub processes to share: it prints the environment that points
// them at it, and sends its webhooks to PUBLIC_BASE_URL (a front for
// them all, say).
func sandboxAlone(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	latency := fs.Duration("latency", 0, "delay every REST answer, as a distant Twilio would (e.g. 200ms)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	sb, err := sandbox.New(cfg)
	if err != nil {
		return err
	}
	defer sb.Close()
	sb.Fake.SetLatency(*latency)
	env := sb.Env()
	for _, k := range slices.Sorted(maps.Keys(env)) {
		fmt.Fprintf(stdout, "export %s=%s\n", k, shellWord(env[k]))
	}
	fmt.Fprintf(stderr, "experthub: sandbox Twilio on %s with workers %v, webhooks to %s; stop with Ctrl-C\n",
		sb.URL, sandbox.Workers, cfg.PublicBaseURL)
	fmt.Fprintf(stderr, "experthub: chat: go run ./cmd/experthub chat --from +33679500001 --sandbox %s\n", sb.URL)
	<-ctx.Done()
	fmt.Fprintln(stderr, "experthub: stopping the sandbox")
	return nil
}
