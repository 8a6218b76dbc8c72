package doctor

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/function"
	"github.com/experthub/experthub/internal/twilio"
)

// FlexTwilio is what the doctor reads from the contact center's Twilio
// account (FLEX_ACCOUNT_SID); *twilio.Client has it.
type FlexTwilio interface {
	FetchWorkspace(ctx context.Context, sid string) (twilio.Workspace, error)
	FetchWorkflow(ctx context.Context, workspace, sid string) (twilio.Workflow, error)
}

// flexChecks checks the contact center when one is configured: its
// credentials, FLEX_WORKSPACE, FLEX_WORKFLOW, HANDOFF_SECRET (set, never
// shown) and, when Expert Hub takes the workspace's events, its event
// callback. Without a contact center there is no line.
func (d *Doctor) flexChecks(ctx context.Context) []Result {
	cfg := d.Config
	switch {
	case d.FlexUnchecked != "":
		return []Result{{"contact center", Warn, "account " + shortSID(d.FlexUnchecked) + ": not checked, its credentials are not in this environment"}}
	case d.Flex == nil:
		return nil
	}
	ws, err := d.Flex.FetchWorkspace(ctx, cfg.FlexWorkspace)
	switch {
	case errors.Is(err, twilio.ErrUnauthorized):
		return []Result{{"flex credentials", Fail, "refused (401): check FLEX_ACCOUNT_SID and FLEX_AUTH_TOKEN (or FLEX_API_KEY): every handoff fails"}}
	case err != nil && !errors.Is(err, twilio.ErrNotFound):
		return []Result{{"flex credentials", Fail, describe(err)}}
	}
	// A 404 comes after Twilio accepted the credentials.
	out := []Result{{"flex credentials", OK, "accepted (account " + shortSID(cfg.FlexAccountSID) + ")"}}
	if err != nil {
		out = append(out, Result{"flex workspace", Fail, "FLEX_WORKSPACE " + cfg.FlexWorkspace + ": " + describe(err)})
	} else {
		out = append(out, Result{"flex workspace", OK, fmt.Sprintf("%s (%s)", ws.SID, ws.FriendlyName)})
	}
	if wf, err := d.Flex.FetchWorkflow(ctx, cfg.FlexWorkspace, cfg.FlexWorkflow); err != nil {
		out = append(out, Result{"flex workflow", Fail, "FLEX_WORKFLOW " + cfg.FlexWorkflow + ": " + describe(err) + " (handoffs create no task)"})
	} else {
		out = append(out, Result{"flex workflow", OK, fmt.Sprintf("%s (%s)", wf.SID, wf.FriendlyName)})
	}
	if cfg.HandoffSecret == "" {
		out = append(out, Result{"handoff secret", Fail, "HANDOFF_SECRET is not set: a Flex plugin's backend cannot call handoff"})
	} else {
		out = append(out, Result{"handoff secret", OK, fmt.Sprintf("set (value not shown; at least %d characters)", config.MinHandoffSecret)})
	}
	if err == nil && slices.Contains(d.Functions, function.FlexEvents) {
		out = append(out, flexCallbackCheck(ws.EventCallbackURL, cfg.PublicURL(function.FlexEvents)))
	}
	return out
}

func flexCallbackCheck(have, want string) Result {
	switch have {
	case want:
		return Result{"flex event callback", OK, want}
	case "":
		return Result{"flex event callback", Fail, "not set: " + string(function.FlexEvents) + " gets no events of the Flex workspace (want " + want + ")"}
	}
	return Result{"flex event callback", Fail, fmt.Sprintf("%s, not %s", have, want)}
}
