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
	plain := cfg.CRM.Values()
	plain["TWILIO_API_KEY"] = cfg.TwilioAPIKey
	wired := desc.WiredSecrets(plain)
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
	if cfg.HasFlex() {
		d.Flex = app.NewFlexTwilio(cfg)
	}
	if cfg.CRM.Configured() {
		d.CRM = app.NewCRM(cfg)
	}
	closeAll := func() {}
	if cfg.UsesFirestore() {
		s, err := fsstore.Open(ctx, cfg.Project, cfg.FirestoreDatabase, cfg.FirestoreCollection)
		if err != nil {
			return nil, nil, err
		}
		closeAll = func() { _ = s.Close() }
		d.Store, d.Templates = s.Store, s.Templates
		if cfg.FirestoreEmulator == "" {
			if d.Admin, err = NewGCPAdmin(ctx, cfg.Project, cfg.FirestoreDatabase); err != nil {
				closeAll()
				return nil, nil, err
			}
		}
	}
	return d, closeAll, nil
}
