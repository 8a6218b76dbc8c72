package doctor

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/twilio"
)

// Advisors
//
// A customer's advisor is the CRM's worker field. An advisor who left
// (their Frontline user deactivated, or no user at all) is skipped by the
// routing policy, so the customer silently loses them: the check counts
// those customers, naming the first few by id (never by name or number),
// so that the CRM can be fixed.

const (
	// advisorsPage is the cache page the check reads at a time.
	advisorsPage = 500
	// advisorsShown bounds the customer ids the line names.
	advisorsShown = 5
)

// advisorsCheck reports the cached customers whose advisor is not an
// active Frontline user.
func (d *Doctor) advisorsCheck(ctx context.Context) Result {
	const check = "customers' advisors"
	if d.Twilio == nil || d.Store == nil {
		return Result{check, Warn, "not checked: needs Twilio and the cache"}
	}
	active := map[string]bool{} // by advisor, lower-cased
	var (
		count, advised int
		ids            []string
		after          *crm.Cursor
	)
	for {
		page, err := d.Store.List(ctx, crm.ListQuery{After: after, Limit: advisorsPage})
		if err != nil {
			return Result{check, Fail, "reading the cache: " + err.Error()}
		}
		for _, c := range page.Customers {
			if c.Worker == "" {
				continue
			}
			advised++
			ok, err := d.advisorActive(ctx, active, c.Worker)
			if err != nil {
				return Result{check, Fail, "reading Frontline user " + c.Worker + ": " + describe(err)}
			}
			if !ok {
				count++
				if len(ids) < advisorsShown {
					ids = append(ids, c.ID)
				}
			}
		}
		if page.Next == nil {
			break
		}
		after = page.Next
	}
	if count == 0 {
		return Result{check, OK, fmt.Sprintf("%d customer(s) with an advisor, every advisor an active Frontline user", advised)}
	}
	more := ""
	if count > len(ids) {
		more = ", …"
	}
	return Result{check, Warn, fmt.Sprintf("%d customer(s) have an advisor who is not an active Frontline user (customer ids %s%s): fix their worker field in the CRM",
		count, strings.Join(ids, ", "), more)}
}

// advisorActive reports whether identity is an active Frontline user,
// reading each advisor once (seen).
func (d *Doctor) advisorActive(ctx context.Context, seen map[string]bool, identity string) (bool, error) {
	key := strings.ToLower(identity)
	if ok, read := seen[key]; read {
		return ok, nil
	}
	u, err := d.Twilio.FetchFrontlineUser(ctx, identity)
	switch {
	case errors.Is(err, twilio.ErrNotFound):
		seen[key] = false
	case err != nil:
		return false, err
	default:
		seen[key] = u.State != twilio.UserDeactivated
	}
	return seen[key], nil
}
