package main

import (
	"context"
	"fmt"
	"io"

	"github.com/experthub/experthub/internal/app"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/function"
	"github.com/experthub/experthub/internal/setup"
)

// setupCmd is `experthub setup twilio`.
func setupCmd(ctx context.Context, args []string, stdout io.Writer) error {
	const targets = "setup knows one target: experthub setup twilio [--dry-run] [--take-event-callback | --no-event-callback]"
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprintln(stdout, targets)
		return nil
	}
	if len(args) == 0 || args[0] != "twilio" {
		return fmt.Errorf("%w: %s", errUsage, targets)
	}
	fs := newFlagSet("setup twilio", stdout)
	var opts setup.Options
	fs.BoolVar(&opts.DryRun, "dry-run", false, "print the difference and change nothing")
	fs.BoolVar(&opts.TakeEventCallback, "take-event-callback", false, "replace another system's TaskRouter workspace event callback (Frontline's and Flex's)")
	fs.BoolVar(&opts.NoEventCallback, "no-event-callback", false, "leave the TaskRouter workspaces' event callbacks alone (Frontline's and Flex's)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	if cfg.HasFlex() {
		opts.Flex = app.NewFlexTwilio(cfg)
	}
	return setup.Command(ctx, cfg, app.NewTwilio(cfg), function.All(), opts, stdout)
}
