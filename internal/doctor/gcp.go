package doctor

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	firestoreadmin "google.golang.org/api/firestore/v1"
	"google.golang.org/api/googleapi"
	secretmanager "google.golang.org/api/secretmanager/v1"

	"github.com/experthub/experthub/internal/deploy"
)

// gcpAdmin is Admin on Google Cloud: the Firestore admin API
// (https://cloud.google.com/firestore/docs/reference/rest) and Secret
// Manager's version metadata, with Application Default Credentials.
type gcpAdmin struct {
	project, database string
	fs                *firestoreadmin.Service
	sm                *secretmanager.Service
}

// NewGCPAdmin returns the Admin of a project's Firestore database and
// secrets.
func NewGCPAdmin(ctx context.Context, project, database string) (Admin, error) {
	fs, err := firestoreadmin.NewService(ctx)
	if err != nil {
		return nil, fmt.Errorf("firestore admin API: %w", err)
	}
	sm, err := secretmanager.NewService(ctx)
	if err != nil {
		return nil, fmt.Errorf("secret manager API: %w", err)
	}
	return &gcpAdmin{project: project, database: database, fs: fs, sm: sm}, nil
}

func (g *gcpAdmin) group(collectionGroup string) string {
	return fmt.Sprintf("projects/%s/databases/%s/collectionGroups/%s", g.project, g.database, collectionGroup)
}

func (g *gcpAdmin) Indexes(ctx context.Context, collectionGroup string) ([]Index, error) {
	var out []Index
	err := g.fs.Projects.Databases.CollectionGroups.Indexes.List(g.group(collectionGroup)).Pages(ctx,
		func(r *firestoreadmin.GoogleFirestoreAdminV1ListIndexesResponse) error {
			for _, ix := range r.Indexes {
				if ix.QueryScope != "COLLECTION" {
					continue
				}
				var fields []deploy.IndexField
				for _, f := range ix.Fields {
					fields = append(fields, deploy.IndexField{FieldPath: f.FieldPath, Order: f.Order, ArrayConfig: f.ArrayConfig})
				}
				out = append(out, Index{Fields: fields, State: ix.State})
			}
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("list indexes of %s: %w", collectionGroup, err)
	}
	return out, nil
}

func (g *gcpAdmin) TTLState(ctx context.Context, collectionGroup, field string) (string, error) {
	f, err := g.fs.Projects.Databases.CollectionGroups.Fields.Get(g.group(collectionGroup) + "/fields/" + field).Context(ctx).Do()
	if notFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the field %s.%s: %w", collectionGroup, field, err)
	}
	if f.TtlConfig == nil {
		return "", nil
	}
	return f.TtlConfig.State, nil
}

func (g *gcpAdmin) SecretEnabled(ctx context.Context, secret string) (bool, error) {
	name := fmt.Sprintf("projects/%s/secrets/%s/versions/latest", g.project, secret)
	v, err := g.sm.Projects.Secrets.Versions.Get(name).Context(ctx).Do()
	if notFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read the metadata of %s: %w", secret, err)
	}
	return v.State == "ENABLED", nil
}

func notFound(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == http.StatusNotFound
}
