package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	experthub "github.com/experthub/experthub"
	"github.com/experthub/experthub/internal/app"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/crmsync"
)

func syncAll(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("sync", stdout)
	allowEmpty := fs.Bool("allow-empty", false, "trust a CRM collection that has no record: empty its cache instead of keeping it (after deleting every customer or template in Strapi)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	a, err := experthub.Instance(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	return runSync(ctx, a, *allowEmpty, stdout)
}

// runSync runs a's full syncs, customers then templates; allowEmpty lets
// a CRM collection without records empty its cache.
func runSync(ctx context.Context, a *app.App, allowEmpty bool, stdout io.Writer) error {
	syncer := a.NewSyncer(func(p crmsync.Progress) { printProgress(stdout, p) })
	if syncer == nil {
		return errors.New("no CRM to sync from: set STRAPI_URL (and STRAPI_API_TOKEN or STRAPI_IDENTIFIER/STRAPI_PASSWORD)")
	}
	full := syncer.Full
	if allowEmpty {
		full = syncer.FullAllowEmpty
	}
	p, err := full(ctx)
	if err != nil {
		return fmt.Errorf("sync stopped after %d customers (run it again to resume): %w", p.Synced, err)
	}
	printKept(stdout, "customers", p)
	templates := a.NewTemplateSyncer()
	fullTemplates := templates.Full
	if allowEmpty {
		fullTemplates = templates.FullAllowEmpty
	}
	tp, err := fullTemplates(ctx)
	switch {
	case errors.Is(err, crm.ErrNotFound):
		fmt.Fprintln(stdout, "templates: no template collection in Strapi; the templates callback offers its built-in templates")
	case err != nil:
		return fmt.Errorf("template sync stopped after %d templates (run it again to resume): %w", tp.Synced, err)
	default:
		fmt.Fprintf(stdout, "templates: %d synced, %d deleted\n", tp.Synced, tp.Deleted)
		printKept(stdout, "templates", tp)
	}
	return nil
}

// printKept says when the full sync's guard kept a cache the CRM had
// nothing for.
func printKept(w io.Writer, what string, p crmsync.Progress) {
	if p.Kept > 0 {
		fmt.Fprintf(w, "%s: none in Strapi; kept %d cached (guard); %s\n", what, p.Kept, crmsync.AllowEmptyHint)
	}
}

func printProgress(w io.Writer, p crmsync.Progress) {
	state := "syncing"
	switch {
	case p.Done:
		state = "done"
	case p.Resumed:
		state = "resuming"
	}
	fmt.Fprintf(w, "sync %-8s %8d synced %6d deleted %8.1fs %8.0f customers/s\n",
		state, p.Synced, p.Deleted, p.Elapsed.Seconds(), p.Rate)
}
