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
	return eventCallbackCheck("flex event callback", have, want,
		string(function.FlexEvents)+" gets no events of the Flex workspace (want "+want+")", "")
}

// whatsAppTemplateCheck checks, with a contact center, the template a
// handoff to a WhatsApp customer outside WhatsApp's 24-hour window opens
// with (HANDOFF_WHATSAPP_CONTENT_SID): it must exist in the Frontline
// account and be approved by WhatsApp. Unset is a warning: such handoffs
// then send a CRM template as text, which WhatsApp refuses since April
// 2025 (https://www.twilio.com/docs/api/errors/63016), or are refused.
func (d *Doctor) whatsAppTemplateCheck(ctx context.Context) []Result {
	const name = "whatsapp template"
	cfg := d.Config
	switch {
	case !cfg.HasFlex() || d.Twilio == nil:
		return nil
	case cfg.HandoffContentSID == "":
		return []Result{{name, Warn, "HANDOFF_WHATSAPP_CONTENT_SID is not set: a handoff to a WhatsApp customer silent for 24 hours " +
			"sends a whatsAppApproved CRM template as text, which WhatsApp refuses (63016), or is refused (422)"}}
	}
	a, err := d.Twilio.FetchContentApproval(ctx, cfg.HandoffContentSID)
	switch {
	case errors.Is(err, twilio.ErrNotFound):
		return []Result{{name, Fail, "HANDOFF_WHATSAPP_CONTENT_SID " + cfg.HandoffContentSID + " is not a Content template of the Frontline account"}}
	case err != nil:
		return []Result{{name, Fail, describe(err)}}
	case a.Status != twilio.ContentApproved:
		status := a.Status
		if status == "" {
			status = "never submitted"
		}
		detail := fmt.Sprintf("%s (%s): WhatsApp approval %s", cfg.HandoffContentSID, show(a.Name), status)
		if a.RejectionReason != "" {
			detail += ": " + show(a.RejectionReason)
		}
		return []Result{{name, Fail, detail + "; handoffs outside the 24-hour window are not delivered"}}
	}
	return []Result{{name, OK, fmt.Sprintf("%s (%s) approved by WhatsApp", cfg.HandoffContentSID, show(a.Name))}}
}
