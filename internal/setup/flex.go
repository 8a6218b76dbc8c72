package setup

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/function"
)

// FlexEvents are the TaskRouter events of the Flex workspace flex-events
// handles: the end of a task the bot created.
var FlexEvents = function.FlexTaskEvents

// runFlex configures the Flex workspace's event callback (FLEX_WORKSPACE
// in the Flex account) to call flex-events, under the rule of the
// Frontline workspace's: another system's callback is kept and reported
// (ErrForeignEventCallback) unless opts.TakeEventCallback.
func runFlex(ctx context.Context, cfg *config.Config, functions []function.Name, opts Options, out io.Writer) error {
	cb := callback{name: "Flex TaskRouter workspace", missed: "Flex's task events do not reach Expert Hub (the sweep settles handoffs alone)"}
	switch {
	case !cfg.HasFlex() || !slices.Contains(functions, function.FlexEvents):
		cb.unneeded = fmt.Sprintf("no contact center (FLEX_*) or no %s function", function.FlexEvents)
	case opts.Flex == nil:
		cb.unneeded = "no client of the Flex account"
	default:
		cb.workspace, cb.url, cb.filter = cfg.FlexWorkspace, cfg.PublicURL(function.FlexEvents), strings.Join(FlexEvents, ",")
	}
	change, foreign, err := planCallback(ctx, opts.Flex, cb, opts, out)
	switch {
	case err != nil:
		return err
	case change && opts.DryRun:
		fmt.Fprintln(out, "Dry run: the Flex workspace's event callback is not written.")
	case change:
		if _, err := opts.Flex.SetWorkspaceEventCallback(ctx, cb.workspace, cb.url, cb.filter); err != nil {
			return fmt.Errorf("update the Flex workspace's event callback: %w", err)
		}
		fmt.Fprintln(out, "Applied the Flex workspace's event callback.")
	}
	if foreign {
		return ErrForeignEventCallback
	}
	return nil
}
