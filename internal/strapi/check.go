package strapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/experthub/experthub/internal/crm"
)

// Check reads Strapi once for experthub doctor: its version and the first
// page of customers. It returns what it found and whether that is the
// whole check; it never is, the webhook to webhookURL (the sync
// function) being visible to Strapi admins only. An error says what
// failed.
func (c *Client) Check(ctx context.Context, webhookURL string) (found string, complete bool, err error) {
	v, err := c.Version(ctx)
	if err != nil {
		return "", false, fmt.Errorf("%s: %w", c.base, err)
	}
	errEnough := errors.New("strapi: one page is enough")
	n := 0
	err = c.Pages(ctx, "", func(page []crm.Customer, _ string) error {
		n = len(page)
		return errEnough
	})
	if err != nil && !errors.Is(err, errEnough) {
		return "", false, fmt.Errorf("v%d at %s, collection %q unreadable: %w", v, c.base, c.collection, err)
	}
	return fmt.Sprintf("Strapi v%d at %s, collection %q readable (%d on the first page); the webhook to %s is not checked: "+
		"that needs Strapi admin credentials — check Settings › Webhooks", v, c.base, c.collection, n, webhookURL), false, nil
}
