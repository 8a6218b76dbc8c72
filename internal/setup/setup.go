// Package setup configures what Twilio's API can configure for Expert Hub
// (`experthub setup twilio`): the Conversations global webhooks and the
// TaskRouter workspace's event callback. It reads what Twilio holds, shows
// the difference with what Expert Hub needs, and writes only that
// difference, so a second run changes nothing. Settings Twilio has no API
// for (Frontline's callbacks and routing) are printed as a checklist.
package setup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/deployment"
	"github.com/experthub/experthub/internal/function"
	"github.com/experthub/experthub/internal/twilio"
)

// Method and Target of the Conversations webhooks: Expert Hub's handlers
// read POST forms (pre-event also reads a signed GET, the others answer
// 405), and Target "webhook" sends the events to the URLs rather than to
// Flex.
const (
	WebhookMethod = "POST"
	WebhookTarget = "webhook"
)

// ErrForeignEventCallback is returned when the workspace's one event
// callback is another system's URL and setup was not allowed to take it.
var ErrForeignEventCallback = errors.New("the workspace's event callback belongs to another system")

// Twilio is what setup reads and writes; *twilio.Client implements it.
type Twilio interface {
	ConversationsWebhooks(ctx context.Context) (twilio.ConversationsWebhooks, error)
	SetConversationsWebhooks(ctx context.Context, w twilio.ConversationsWebhooks) (twilio.ConversationsWebhooks, error)
	FetchWorkspace(ctx context.Context, sid string) (twilio.Workspace, error)
	SetWorkspaceEventCallback(ctx context.Context, sid, callbackURL, eventsFilter string) (twilio.Workspace, error)
}

// Options are the command's flags.
type Options struct {
	// DryRun prints the difference and changes nothing.
	DryRun bool
	// TakeEventCallback replaces another system's workspace event
	// callback; NoEventCallback leaves the workspace alone. Both apply
	// to the Flex workspace too.
	TakeEventCallback bool
	NoEventCallback   bool
	// Flex is the Flex account's API (app.NewFlexTwilio), whose
	// workspace's event callback is flex-events; nil: that workspace is
	// left alone.
	Flex Twilio
}

// Want is what Expert Hub needs Twilio to hold.
type Want struct {
	Webhooks twilio.ConversationsWebhooks
	// Workspace and EventCallbackURL are empty when there is nothing to
	// set: no workspace configured, or no function.TaskRouterEvents.
	Workspace        string
	EventCallbackURL string
	EventsFilter     string
}

// Wanted derives Want from the configuration, the deployed functions and
// the webhook filters of the deployment description. The waiting line's
// event callback is configured only when the functions include
// taskrouter-events.
func Wanted(cfg *config.Config, functions []function.Name, preFilters, postFilters []string) Want {
	w := Want{Webhooks: twilio.ConversationsWebhooks{
		PreWebhookURL:  cfg.PublicURL(function.PreEvent),
		PostWebhookURL: cfg.PublicURL(function.PostEvent),
		Method:         WebhookMethod,
		Target:         WebhookTarget,
		Filters:        slices.Concat(preFilters, postFilters),
	}}
	if slices.Contains(functions, function.TaskRouterEvents) && cfg.Workspace != "" {
		w.Workspace = cfg.Workspace
		w.EventCallbackURL = cfg.PublicURL(function.TaskRouterEvents)
	}
	return w
}

// Run reads Twilio's configuration, prints the difference with want to
// out, and, unless opts.DryRun, applies it. It returns
// ErrForeignEventCallback (after applying the rest) when the workspace's
// callback is another system's and opts.TakeEventCallback is not set.
func Run(ctx context.Context, tw Twilio, want Want, opts Options, out io.Writer) error {
	have, err := tw.ConversationsWebhooks(ctx)
	if err != nil {
		return fmt.Errorf("read the Conversations webhooks: %w", err)
	}
	changes := 0
	fmt.Fprintln(out, "Conversations global webhooks (POST https://conversations.twilio.com/v1/Configuration/Webhooks):")
	hookDiff := webhookDiff(have, want.Webhooks)
	printDiff(out, hookDiff)
	if changed(hookDiff) {
		changes++
	}

	wsChange, foreign, err := planWorkspace(ctx, tw, want, opts, out)
	if err != nil {
		return err
	}
	if wsChange {
		changes++
	}

	switch {
	case changes == 0:
		fmt.Fprintln(out, "No changes: Twilio already holds this configuration.")
	case opts.DryRun:
		fmt.Fprintf(out, "Dry run: %d change(s) shown, nothing written.\n", changes)
	default:
		if changed(hookDiff) {
			if _, err := tw.SetConversationsWebhooks(ctx, want.Webhooks); err != nil {
				return fmt.Errorf("update the Conversations webhooks: %w", err)
			}
		}
		if wsChange {
			if _, err := tw.SetWorkspaceEventCallback(ctx, want.Workspace, want.EventCallbackURL, want.EventsFilter); err != nil {
				return fmt.Errorf("update the workspace's event callback: %w", err)
			}
		}
		fmt.Fprintf(out, "Applied %d change(s).\n", changes)
	}
	if foreign {
		return ErrForeignEventCallback
	}
	return nil
}

// callback is one workspace's event callback as Expert Hub wants it.
type callback struct {
	name                   string // "TaskRouter workspace"
	workspace, url, filter string
	// unneeded says why there is nothing to set, when url is empty;
	// missed what goes without events while another system holds it.
	unneeded, missed string
}

// planWorkspace prints the workspace's part of the difference and reports
// whether it is to be written, and whether another system's callback is
// in the way.
func planWorkspace(ctx context.Context, tw Twilio, want Want, opts Options, out io.Writer) (change, foreign bool, err error) {
	return planCallback(ctx, tw, callback{
		name: "TaskRouter workspace", workspace: want.Workspace, url: want.EventCallbackURL, filter: want.EventsFilter,
		unneeded: fmt.Sprintf("no %s function or no FRONTLINE_WORKSPACE", function.TaskRouterEvents),
		missed:   "The waiting line gets no TaskRouter events",
	}, opts, out)
}

// planCallback prints the difference of one workspace's event callback
// (the workspace has one) and reports whether it is to be written, and
// whether another system's callback is in the way: that one is kept,
// unless opts.TakeEventCallback.
func planCallback(ctx context.Context, tw Twilio, cb callback, opts Options, out io.Writer) (change, foreign bool, err error) {
	switch {
	case opts.NoEventCallback:
		fmt.Fprintln(out, cb.name+" event callback: skipped (--no-event-callback).")
		return false, false, nil
	case cb.url == "":
		fmt.Fprintf(out, "%s event callback: not needed (%s).\n", cb.name, cb.unneeded)
		return false, false, nil
	}
	ws, err := tw.FetchWorkspace(ctx, cb.workspace)
	if err != nil {
		return false, false, fmt.Errorf("read workspace %s: %w", cb.workspace, err)
	}
	fmt.Fprintf(out, "%s %s event callback (one per workspace):\n", cb.name, cb.workspace)
	d := []field{
		{"EventCallbackUrl", ws.EventCallbackURL, cb.url},
		{"EventsFilter", ws.EventsFilter, cb.filter},
	}
	if ws.EventCallbackURL != "" && ws.EventCallbackURL != cb.url && !opts.TakeEventCallback {
		fmt.Fprintf(out, "  ! EventCallbackUrl is %s, another system's: left as is. %s\n"+
			"    until it is %s; run again with --take-event-callback to replace it.\n", ws.EventCallbackURL, cb.missed, cb.url)
		return false, true, nil
	}
	printDiff(out, d)
	return changed(d), false, nil
}

// field is one setting: what Twilio holds and what Expert Hub needs.
type field struct{ name, have, want string }

func webhookDiff(have, want twilio.ConversationsWebhooks) []field {
	return []field{
		{"PreWebhookUrl", have.PreWebhookURL, want.PreWebhookURL},
		{"PostWebhookUrl", have.PostWebhookURL, want.PostWebhookURL},
		{"Method", have.Method, want.Method},
		{"Filters", filters(have.Filters), filters(want.Filters)},
		{"Target", have.Target, want.Target},
	}
}

// filters renders a filter list in a stable order: Twilio keeps no order.
func filters(f []string) string {
	s := slices.Clone(f)
	slices.Sort(s)
	return strings.Join(s, ",")
}

func changed(d []field) bool {
	return slices.ContainsFunc(d, func(f field) bool { return f.have != f.want })
}

func printDiff(out io.Writer, d []field) {
	for _, f := range d {
		if f.have == f.want {
			fmt.Fprintf(out, "    %-16s %s\n", f.name, show(f.want))
			continue
		}
		fmt.Fprintf(out, "  ~ %-16s %s → %s\n", f.name, show(f.have), show(f.want))
	}
}

func show(s string) string {
	if s == "" {
		return "(empty)"
	}
	return s
}

// Checklist prints the settings Twilio has no API for, with their exact
// URLs: Frontline's callbacks and routing, set in the Console. The
// templates callback is left empty when the functions lack templates.
func Checklist(cfg *config.Config, functions []function.Name, out io.Writer) {
	fmt.Fprintln(out, "Set by hand in the Twilio Console (Frontline has no API for these):")
	fmt.Fprintf(out, "  [ ] Frontline › Manage › Callbacks › CRM Callback URL:                    %s\n", cfg.PublicURL(function.CRM))
	fmt.Fprintf(out, "  [ ] Frontline › Manage › Callbacks › Outgoing Conversations Callback URL: %s\n", cfg.PublicURL(function.Outgoing))
	if slices.Contains(functions, function.Templates) {
		fmt.Fprintf(out, "  [ ] Frontline › Manage › Callbacks › Templates Callback URL:              %s\n", cfg.PublicURL(function.Templates))
	} else {
		fmt.Fprintln(out, "  [ ] Frontline › Manage › Callbacks › Templates Callback URL:              (leave empty)")
	}
	fmt.Fprintf(out, "  [ ] Frontline › Manage › Routing › Custom routing, callback URL:          %s\n", cfg.PublicURL(function.Routing))
}

// Command is `experthub setup twilio`: it configures the Twilio account of
// cfg for the functions listed, then prints the Console checklist.
func Command(ctx context.Context, cfg *config.Config, tw Twilio, functions []function.Name, opts Options, out io.Writer) error {
	if !cfg.HasTwilio() {
		return errors.New("no Twilio credentials: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or an API key)")
	}
	d, err := deployment.Load()
	if err != nil {
		return err
	}
	if opts.TakeEventCallback && opts.NoEventCallback {
		return errors.New("--take-event-callback and --no-event-callback contradict each other")
	}
	want := Wanted(cfg, functions, d.PreEventFilters, d.PostEventFilters)
	err = Run(ctx, tw, want, opts, out)
	if ferr := runFlex(ctx, cfg, functions, opts, out); err == nil {
		err = ferr
	}
	fmt.Fprintln(out)
	Checklist(cfg, functions, out)
	return err
}
