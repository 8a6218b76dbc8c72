// Command experthub runs Expert Hub locally and helps operate it.
//
//	experthub [serve]          serve every function at http://localhost:$PORT/<name>
//	experthub sync             copy the whole Strapi CRM into the cache, with progress
//	experthub chat --from N    be a customer (and reply as a worker) in the sandbox
//	experthub deploy …         print (or --run) the gcloud commands that deploy it
//	experthub queue-fake       run a local fake of Cloud Tasks for the work queue
//	experthub sandbox          run the sandbox Twilio alone, for several processes
//	experthub front URL…       one local URL before several serving processes
//	experthub setup twilio     configure Twilio's webhooks (shows the diff first)
//	experthub doctor           check a deployment end to end, one line per check
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "experthub:", err)
		os.Exit(1)
	}
}

// run runs the command args name. Help asked for (-h, --help) is printed
// and is no error: the exit status is 0.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	err := runCommand(ctx, args, stdin, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func runCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprint(stdout, usage)
		return nil
	}
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, stderr)
	case "sync":
		return syncAll(ctx, args, stdout)
	case "chat":
		return chat(ctx, args, stdin, stdout)
	case "deploy":
		return deployCmd(args, stdout)
	case "queue-fake":
		return queueFake(ctx, args, stdout, stderr)
	case "sandbox":
		return sandboxAlone(ctx, args, stdout, stderr)
	case "front":
		return front(ctx, args, stderr)
	case "setup":
		return setupCmd(ctx, args, stdout)
	case "doctor":
		return doctorCmd(ctx, args, stdout)
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
}

const usage = `usage:
  experthub [serve]                 serve every function on $PORT (default 8080)
  experthub sync [--allow-empty]    full sync from Strapi into the cache (--allow-empty: an empty Strapi empties it)
  experthub chat --from <number>    talk to the local sandbox as a customer
  experthub deploy --project P …    print the gcloud deploy commands (--run to run them)
  experthub queue-fake [-addr A]    run a Cloud Tasks fake; prints the env to point experthub at it
  experthub sandbox [-latency D]    run the sandbox Twilio alone; prints the env to point experthub at it
  experthub front [-addr A] URL…    hand each request to the next live instance, as Cloud Run's front end
  experthub setup twilio [--dry-run] [--take-event-callback | --no-event-callback]
                                    configure Twilio's webhooks and event callback; print the Console checklist
  experthub doctor [--base-url URL] check Twilio, the functions, Strapi and Firestore; exit 1 on any FAIL
`

var errUsage = errors.New("bad usage")

func isHelp(arg string) bool {
	switch arg {
	case "help", "-h", "-help", "--help":
		return true
	}
	return false
}

// newFlagSet returns a command's flag set, printing its usage and
// mistakes to out. It returns errors rather than exiting, so that run can
// tell help asked for (exit status 0) from a mistake.
func newFlagSet(name string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	return fs
}

// parseFlags parses a command's flags and refuses arguments (see
// parseArgs).
func parseFlags(fs *flag.FlagSet, args []string) error {
	rest, err := parseArgs(fs, args)
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("%w: unexpected %q", errUsage, rest[0])
	}
	return err
}

// parseArgs parses a command's flags and returns its other arguments.
// Help asked for comes back as flag.ErrHelp, which run turns into exit
// status 0; any other mistake is errUsage (the flag package has printed
// it).
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, errUsage
	}
	return fs.Args(), nil
}
