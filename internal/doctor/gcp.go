package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"golang.org/x/oauth2/google"

	"github.com/experthub/experthub/internal/deployment"
)

// gcpAdmin is Admin on Google Cloud: the Firestore admin API
// (https://cloud.google.com/firestore/docs/reference/rest) and Secret
// Manager's version metadata
// (https://cloud.google.com/secret-manager/docs/reference/rest), with
// Application Default Credentials. Three GETs do not need the generated
// API packages, which are large to compile.
type gcpAdmin struct {
	project, database string
	client            *http.Client
}

// NewGCPAdmin returns the Admin of a project's Firestore database and
// secrets.
func NewGCPAdmin(ctx context.Context, project, database string) (Admin, error) {
	c, err := google.DefaultClient(ctx, "https://www.googleapis.com/auth/cloud-platform")
	if err != nil {
		return nil, fmt.Errorf("google credentials: %w", err)
	}
	return &gcpAdmin{project: project, database: database, client: c}, nil
}

func (g *gcpAdmin) group(collectionGroup string) string {
	return fmt.Sprintf("projects/%s/databases/%s/collectionGroups/%s", g.project, g.database, collectionGroup)
}

// errNotFound is returned by get when the resource does not exist.
var errNotFound = errors.New("doctor: not found")

// get reads a REST resource into v.
func (g *gcpAdmin) get(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	res, err := g.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	switch {
	case err != nil:
		return err
	case res.StatusCode == http.StatusNotFound:
		return errNotFound
	case res.StatusCode != http.StatusOK:
		return fmt.Errorf("GET %s: %s", u, res.Status)
	}
	return json.Unmarshal(body, v)
}

func (g *gcpAdmin) Indexes(ctx context.Context, collectionGroup string) ([]Index, error) {
	var out []Index
	for token := ""; ; {
		var page struct {
			Indexes []struct {
				QueryScope string                  `json:"queryScope"`
				State      string                  `json:"state"`
				Fields     []deployment.IndexField `json:"fields"`
			} `json:"indexes"`
			NextPageToken string `json:"nextPageToken"`
		}
		u := "https://firestore.googleapis.com/v1/" + g.group(collectionGroup) + "/indexes?pageToken=" + url.QueryEscape(token)
		if err := g.get(ctx, u, &page); err != nil {
			return nil, fmt.Errorf("list indexes of %s: %w", collectionGroup, err)
		}
		for _, ix := range page.Indexes {
			if ix.QueryScope == "COLLECTION" {
				out = append(out, Index{Fields: ix.Fields, State: ix.State})
			}
		}
		if token = page.NextPageToken; token == "" {
			return out, nil
		}
	}
}

func (g *gcpAdmin) TTLState(ctx context.Context, collectionGroup, field string) (string, error) {
	var f struct {
		TTLConfig *struct {
			State string `json:"state"`
		} `json:"ttlConfig"`
	}
	err := g.get(ctx, "https://firestore.googleapis.com/v1/"+g.group(collectionGroup)+"/fields/"+field, &f)
	if errors.Is(err, errNotFound) || (err == nil && f.TTLConfig == nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the field %s.%s: %w", collectionGroup, field, err)
	}
	return f.TTLConfig.State, nil
}

func (g *gcpAdmin) SecretEnabled(ctx context.Context, secret string) (bool, error) {
	var v struct {
		State string `json:"state"`
	}
	err := g.get(ctx, fmt.Sprintf("https://secretmanager.googleapis.com/v1/projects/%s/secrets/%s/versions/latest", g.project, secret), &v)
	if errors.Is(err, errNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read the metadata of %s: %w", secret, err)
	}
	return v.State == "ENABLED", nil
}
