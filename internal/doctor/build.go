package doctor

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/experthub/experthub/internal/app"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/deployment"
	"github.com/experthub/experthub/internal/fsstore"
	"github.com/experthub/experthub/internal/function"
)

// Build returns the Doctor of a configuration and the functions it
// serves, and what to close after Run. Firestore's admin API is used on
// Google Cloud; the emulator has none.
//
// environment names the deployment (its secrets are <prefix>-<environment>-<name>,
// README "Environments"); empty means the description's names as written.
func Build(ctx context.Context, cfg *config.Config, functions []function.Name, environment string) (*Doctor, func(), error) {
	desc, err := deployment.Load()
	if err != nil {
		return nil, nil, err
	}
	if environment != "" {
		if desc, err = desc.ForEnvironment(environment); err != nil {
			return nil, nil, err
		}
	}
	indexes, err := deployment.ParseIndexes(fsstore.IndexesJSON)
	if err != nil {
		return nil, nil, fmt.Errorf("indexes.json: %w", err)
	}
	d := &Doctor{
		Config:      cfg,
		Functions:   functions,
		Indexes:     indexes.Composite,
		TTLFields:   indexes.TTL,
		PreFilters:  desc.PreEventFilters,
		PostFilters: desc.PostEventFilters,
		Log:         slog.New(slog.DiscardHandler),
	}
	wired := desc.WiredSecrets(map[string]string{
		"TWILIO_API_KEY": cfg.TwilioAPIKey, "STRAPI_URL": cfg.StrapiURL, "STRAPI_IDENTIFIER": cfg.StrapiIdentifier,
	})
	for _, s := range desc.Secrets {
		for _, w := range wired {
			if s.Env == w {
				d.Secrets = append(d.Secrets, s)
			}
		}
	}
	if cfg.HasTwilio() {
		d.Twilio = app.NewTwilio(cfg)
	}
	if cfg.HasStrapi() {
		d.CRM = app.NewStrapi(cfg)
	}
	closeAll := func() {}
	if cfg.UsesFirestore() {
		client, err := fsstore.NewClient(ctx, cfg.Project, cfg.FirestoreDatabase)
		if err != nil {
			return nil, nil, err
		}
		closeAll = func() { _ = client.Close() }
		d.Store = fsstore.NewStore(client, cfg.FirestoreCollection)
		d.Templates = fsstore.NewTemplateStore(client, cfg.FirestoreCollection)
		if cfg.FirestoreEmulator == "" {
			if d.Admin, err = NewGCPAdmin(ctx, cfg.Project, cfg.FirestoreDatabase); err != nil {
				closeAll()
				return nil, nil, err
			}
		}
	}
	return d, closeAll, nil
}
